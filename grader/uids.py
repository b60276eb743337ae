"""One allocator of sandbox uids for every grading process on a machine.

The service's workers, `holdout worker`, `holdout grade`, `holdout bank check` and the benchmarks
all take their sandbox uids here, the way isolate hands out its boxes: uids 61000..61999 are cut
into blocks of `BLOCK_WIDTH`, and a process holds the blocks it uses by an exclusive flock on one
file per block (`HOLDOUT_UID_LOCK_DIR`, default /tmp/holdout-uid-blocks) for as long as it lives.
The kernel drops the lock when the process dies, however it dies; a block is then taken again only
once no process runs as any of its uids (a dead process's jobs may take a moment to be killed).
Two grading processes therefore never share a uid, and with it a keyring, a process limit, or the
right to signal each other's jobs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO

from grader.config import UID_LOCK_DIR
from grader.sandbox import SandboxUnavailable

BASE_UID = 61000
BLOCK_WIDTH = 8
BLOCKS = 125  # 61000 .. 61999
# Uids a slot cycles through. A grade is two runs back to back (visible tests, then hidden ones),
# each as its own uid, and a finished run's uid comes back only once the kernel has torn down its
# namespaces (a few ms): with four, the next grade never waits for the teardown of the last one.
UIDS_PER_SLOT = 4


class UidsExhausted(SandboxUnavailable):
    pass


def lock_dir() -> Path:
    return UID_LOCK_DIR.read()


class UidBlock:
    """Uids `base .. base + width - 1`, held (by flocks) until `close()` or the process ends."""

    def __init__(self, base: int, width: int, handles: list[IO[str]]) -> None:
        self.base = base
        self.width = width
        self._handles = handles

    @property
    def uids(self) -> list[int]:
        return list(range(self.base, self.base + self.width))

    def close(self) -> None:
        for handle in self._handles:
            handle.close()
        self._handles = []

    def __enter__(self) -> UidBlock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def blocks_for(count: int) -> int:
    return max(1, -(-count // BLOCK_WIDTH))


def claim(count: int) -> UidBlock:
    """At least `count` consecutive uids that no other process on this machine uses."""
    need = blocks_for(count)
    directory = lock_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for first in range(BLOCKS - need + 1):
        handles = []
        for block in range(first, first + need):
            handle = _lock(directory / f"uids-{BASE_UID + block * BLOCK_WIDTH}.lock")
            if handle is None:
                break
            handles.append(handle)
        if len(handles) == need:
            base = BASE_UID + first * BLOCK_WIDTH
            width = need * BLOCK_WIDTH
            if not processes_of(set(range(base, base + width))):
                return UidBlock(base, width, handles)
        for handle in handles:
            handle.close()
    raise UidsExhausted(
        f"no {need} free sandbox uid block(s) of {BLOCKS} on this machine "
        f"(locks in {directory}); too many grading processes?"
    )


def _lock(path: Path) -> IO[str] | None:
    handle = open(path, "a")  # noqa: SIM115 - held for as long as the block is in use
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def claim_uid_block(slots: int) -> tuple[int, UidBlock]:
    """The base uid for a Grader with `slots` slots, and the block that reserves its uids."""
    block = claim(UIDS_PER_SLOT * slots)
    return block.base, block


def processes_of(uids: set[int]) -> list[int]:
    """Pids of live processes with one of `uids` as real, effective, saved or filesystem uid."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError), open(f"/proc/{name}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    if {int(v) for v in line.split()[1:]} & uids:
                        found.append(int(name))
                    break
    return found
