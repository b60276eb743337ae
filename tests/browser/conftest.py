"""A real deployment for browser tests: gunicorn (embedded grading) on SQLite with the bundled
bank, a fake LMS over HTTP registered through the CLI, and headless Chromium driven by
Playwright (Debian's chromium: Playwright's own browser downloads are not used)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import require_service
from tests.jobs.processes import Proc, deployment_env, holdout, start_gunicorn
from tests.lti.platform import FakePlatform

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@dataclass
class Deployment:
    base: str
    env: dict[str, str]
    server: Proc
    platform: FakePlatform
    shots: Path


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database holding the bundled bank, made once: each deployment starts from a
    copy (loading the bank checks every exercise in the sandbox, seconds each time)."""
    folder = tmp_path_factory.mktemp("seeded")
    env = deployment_env(folder, f"sqlite:///{folder / 'holdout.db'}")
    holdout(env, "db", "upgrade")
    holdout(env, "bank", "load")
    return folder / "holdout.db"


@pytest.fixture
def deployment(tmp_path: Path, seeded_database: Path) -> Iterator[Deployment]:
    for suffix in ("", "-wal", "-shm"):
        source = seeded_database.with_name(seeded_database.name + suffix)
        if source.exists():
            shutil.copyfile(source, tmp_path / f"holdout.db{suffix}")
    env = deployment_env(tmp_path, f"sqlite:///{tmp_path / 'holdout.db'}")
    server, base = start_gunicorn(env, tmp_path, workers=1)
    platform = FakePlatform(base, lambda: requests.get(base + "/lti/jwks", timeout=10).json())
    platform.start()
    registration = platform.registration()
    output = holdout(
        env,
        "lti",
        "register",
        "--name", registration["name"],
        "--issuer", registration["issuer"],
        "--client-id", registration["client_id"],
        "--deployment-id", platform.deployment_id,
        "--auth-login-url", registration["auth_login_url"],
        "--token-url", registration["auth_token_url"],
        "--jwks-url", registration["jwks_url"],
        "--base-url", base,
    )  # fmt: skip
    assert f"Public keyset (JWKS) URL:  {base}/lti/jwks" in output, output
    shots = Path(os.environ.get("HOLDOUT_SCREENSHOT_DIR") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    try:
        yield Deployment(base, env, server, platform, shots)
    finally:
        platform.stop()
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    require_service(os.path.exists(CHROMIUM), "Debian's chromium (make install installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
