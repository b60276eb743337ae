"""Pinned dependencies: the lock files pin every package the ranges in pyproject.toml allow,
this environment runs what they pin, and `make serve` installs the runtime only."""

from __future__ import annotations

import re
import subprocess
import tomllib
from importlib.metadata import distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCKS = {
    "runtime": "requirements.lock",
    "dev": "requirements-dev.lock",
    "bench": "requirements-bench.lock",
}


def pins(lock: str) -> dict[str, str]:
    found = {}
    for line in (ROOT / lock).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\[\],-]+)==([^\s;]+)(\s*;.*)?", line)
        assert match, f"{lock}: not an exact pin: {line!r}"
        found[canonicalize_name(match.group(1).split("[")[0])] = match.group(2)
    return found


def test_every_dependency_is_pinned_within_its_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {
        "runtime": project["dependencies"],
        "dev": project["dependencies"] + project["optional-dependencies"]["dev"],
        "bench": project["dependencies"] + project["optional-dependencies"]["bench"],
    }
    runtime = pins(LOCKS["runtime"])
    for kind, requirements in wanted.items():
        locked = pins(LOCKS[kind])
        for text in requirements:
            requirement = Requirement(text)
            name = canonicalize_name(requirement.name)
            assert name in locked, f"{name} is not in {LOCKS[kind]}: run `make lock`"
            assert requirement.specifier.contains(locked[name], prereleases=True), (
                f"{LOCKS[kind]} pins {name}=={locked[name]}, outside {requirement.specifier}: "
                "run `make lock`"
            )
        # The same version of a package wherever it is pinned.
        assert {n: v for n, v in locked.items() if n in runtime} == {
            n: runtime[n] for n in locked if n in runtime
        }


def test_this_environment_runs_the_pinned_versions() -> None:
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in distributions()}
    differ = {
        name: (version, installed.get(name))
        for name, version in pins(LOCKS["dev"]).items()
        if installed.get(name) != version
    }
    assert not differ, f"(pinned, installed): {differ}; run `make dev`"


def test_make_serve_installs_the_runtime_only_and_make_test_the_dev_tools() -> None:
    def plan(target: str) -> str:
        done = subprocess.run(
            ["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    serve = plan("serve")
    assert "pip install --quiet -r requirements.lock" in serve
    assert "--no-deps -e ." in serve
    assert "requirements-dev.lock" not in serve and "[dev]" not in serve
    test = plan("test")
    assert "pip install --quiet -r requirements-dev.lock" in test
    assert "requirements-bench.lock" not in test
