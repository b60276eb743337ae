"""What the grader learns once per exercise version, kept on disk for every grading process.

A reference's outputs, the known mutants' profiles and a lab's baseline cost sandboxed runs (the
profiles of `dropout`: 13 mutants, two runs each). In memory, each process pays for them on its
first use, in the middle of whatever it is serving; in this directory the first process (or
`holdout bank warm`, ahead of time) pays once and the others read the result. A key names
everything the result depends on: the exercise (its fingerprint), the grader's own code and the
numpy and Python it runs with, so an upgrade never reads an old result.

The file is the trusted parent's own writing, in a folder the sandbox cannot see, but it is read as
any sandbox output is: through `values.decode`, which allocates nothing it has not checked. A file
that does not decode is ignored (and computed again), never an error.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import tempfile
from collections.abc import Iterator
from functools import cache
from hashlib import sha256
from pathlib import Path
from typing import Any

import numpy as np

from grader.values import Blob, DecodeError, decode, encode

SUFFIX = ".result"


@cache
def code_version() -> str:
    """What a cached result depends on besides the exercise: this package and its runtime."""
    h = sha256(f"{np.__version__}|{platform.python_version()}".encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


class ResultCache:
    """Results by key in `directory` (created, private to this user)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, kind: str, key: str) -> Path:
        name = sha256(f"{code_version()}|{kind}|{key}".encode()).hexdigest()
        return self.directory / f"{kind}-{name}"

    @contextlib.contextmanager
    def computing(self, kind: str, key: str) -> Iterator[None]:
        """Held while one process computes a result, so that the others wait and then read it."""
        with open(self._path(kind, key).with_suffix(".lock"), "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            yield

    def get(self, kind: str, key: str) -> Any | None:
        """The stored value, or None (none stored, or a file that does not decode)."""
        try:
            raw = self._path(kind, key).with_suffix(SUFFIX).read_bytes()
        except OSError:
            return None
        try:
            return _load(raw)
        except (DecodeError, ValueError, TypeError, KeyError, IndexError, RecursionError):
            return None

    def put(self, kind: str, key: str, value: Any) -> None:
        """Store `value` (what `values.encode` takes), atomically: a reader sees all or nothing."""
        path = self._path(kind, key).with_suffix(SUFFIX)
        data = _dump(value)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def _dump(value: Any) -> bytes:
    """A JSON line (the encoded value and each blob's length), then the blobs' bytes."""
    blobs: list[Blob] = []
    data = encode(value, blobs)
    parts = [header + body for header, body in blobs]
    head = json.dumps({"value": data, "blobs": [len(p) for p in parts]}).encode()
    return head + b"\n" + b"".join(parts)


def _load(raw: bytes) -> Any:
    end = raw.index(b"\n")
    head = json.loads(raw[:end])
    view = memoryview(raw)[end + 1 :]
    blobs: list[Any] = []
    for size in head["blobs"]:
        if type(size) is not int or not 0 <= size <= len(view):
            raise DecodeError("malformed blob length")
        blobs.append(view[:size])
        view = view[size:]
    if len(view):
        raise DecodeError("bytes after the last blob")
    return decode(head["value"], blobs)
