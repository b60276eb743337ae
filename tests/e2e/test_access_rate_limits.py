"""Rate limits hold across 2 real gunicorn workers: one budget per user (token and browser
session alike), and requests with bad tokens counted against the client address."""

from __future__ import annotations

import re
from pathlib import Path

import requests

from tests.jobs.processes import deployment_env, holdout, start_gunicorn

LIMIT = 30


def test_limits_are_shared_by_workers_and_keyed_by_user(tmp_path: Path) -> None:
    env = deployment_env(tmp_path, f"sqlite:///{tmp_path / 'holdout.db'}")
    env["HOLDOUT_RATE_LIMIT"] = f"{LIMIT} per minute"
    holdout(env, "db", "upgrade")
    token = holdout(env, "token", "create", "--role", "student", "--name", "ada").splitlines()[-1]
    server, base = start_gunicorn(env, tmp_path, workers=2)
    try:
        me = {"Authorization": f"Bearer {token}"}
        browser = requests.Session()
        link = requests.post(f"{base}/api/v1/sign-in-links", json={}, headers=me).json()["url"]
        path = "/app/enter/" + link.rsplit("/", 1)[1]
        page = browser.get(base + path).text
        nonce = re.search(r'name="nonce" value="([^"]+)"', page)
        assert nonce is not None
        assert browser.post(base + path, data={"nonce": nonce.group(1)}).status_code == 200
        # Ada's so far: making the link, and the page the session was redirected to. Opening
        # and confirming the link (no credentials yet) counted against the address.
        used, by_address = 2, 2

        # A fresh connection each time: gunicorn hands them to both workers.
        codes = [
            requests.get(f"{base}/api/v1/me", headers={**me, "Connection": "close"}).status_code
            for _ in range(LIMIT + 10)
        ]
        assert codes.count(200) == LIMIT - used, codes
        assert codes.count(429) == 10 + used
        # The browser session is the same user: its budget is spent too.
        assert browser.get(f"{base}/api/v1/me").status_code == 429

        bad = {"Authorization": "Bearer hot_guessed", "Connection": "close"}
        guesses = [
            requests.get(f"{base}/api/v1/me", headers=bad).status_code for _ in range(LIMIT + 5)
        ]
        assert guesses.count(401) == LIMIT - by_address, guesses
        assert guesses.count(429) == 5 + by_address
    finally:
        server.stop()
    log = server.output()
    assert "/app/enter/[redacted]" in log and path not in log
