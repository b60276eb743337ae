"""Fixtures for the grader tests: a real Grader per xdist worker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from grader_helpers import SLOTS, attack_exercise, sandbox_processes, worker_base_uid

from grader import Exercise, Grader


@pytest.fixture(scope="session")
def grader() -> Iterator[Grader]:
    g = Grader(slots=SLOTS, base_uid=worker_base_uid())
    status = g.sandbox_status()
    if not status["ok"] or status["missing"]:
        g.close()
        pytest.fail(f"sandbox unavailable: {status}")
    yield g
    g.close()


@pytest.fixture(scope="session")
def target() -> Exercise:
    return attack_exercise()


@pytest.fixture
def leaves_nothing(grader: Grader) -> Iterator[None]:
    """After the test: no process under the sandbox uids, no new files in the shared temp dirs."""
    uids = set(grader.uids)
    before = {d: set(os.listdir(d)) for d in ("/tmp", "/var/tmp", "/dev/shm")}
    yield
    assert grader.wait_idle(30)
    left = sandbox_processes(uids)
    assert left == [], [Path(f"/proc/{p}/status").read_text()[:300] for p in left]
    for d, names in before.items():
        # Other test suites may use these directories concurrently: look for what ours could make.
        ours = ("holdout-job-", "holdout-evil", "pwned", "big")  # not other tools' holdout-*
        new = {n for n in set(os.listdir(d)) - names if n.startswith(ours)}
        assert not new, f"left behind in {d}: {new}"
