"""The Dockerfile, read as text (no container engine here): slim Python, a non-root user, the
`make install` steps, migrations and the bank at start, gunicorn, and a health check."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n\s*", " ", text)  # continuation lines
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_base_user_install_and_start() -> None:
    everything = instructions()
    # The image is the last stage; earlier ones only build assets.
    last_from = max(i for i, (k, _) in enumerate(everything) if k == "FROM")
    steps = everything[last_from:]
    keywords = [k for k, _ in steps]
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", steps[0][1])

    user_at = keywords.index("USER")
    user = steps[user_at][1]
    assert user not in ("root", "0") and not user.startswith("0:")
    installs = [i for i, (k, v) in enumerate(steps) if k == "RUN" and "pip install" in v]
    assert installs and max(installs) < user_at  # installed as root, run as the app user
    assert all(k != "USER" for k in keywords[user_at + 1 :])
    runs = " ".join(v for k, v in steps if k == "RUN")
    assert "pip install -r requirements.lock" in runs  # the pinned versions, as `make install`
    assert re.search(r"pip install --no-deps (-e )?\.(\s|$)", runs)

    entry = " ".join(v for k, v in steps if k in ("ENTRYPOINT", "CMD"))
    order = [entry.find(s) for s in ("holdout db upgrade", "holdout bank load", "exec gunicorn")]
    assert -1 not in order and order == sorted(order)
    assert "-c python:service.gunicorn_conf service.wsgi:app" in entry
    json.loads(next(v for k, v in steps if k == "ENTRYPOINT"))  # exec form: signals reach it


def test_healthcheck_uses_python_on_healthz() -> None:
    check = next(v for k, v in instructions() if k == "HEALTHCHECK")
    assert "CMD" in check and "/healthz" in check and "urllib.request" in check
    assert "curl" not in check and "wget" not in check


def test_copied_paths_exist_and_are_not_ignored() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".git", "instance", "tests"} <= ignored
    for keyword, value in instructions():
        if keyword == "COPY" and not value.startswith("--from="):
            *sources, _ = value.split()
            for source in sources:
                assert (ROOT / source).exists(), source
                assert source not in ignored
