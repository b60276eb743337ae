"""The wire protocol between the trusted parent and the harness in the sandbox (`_child.py`).

The parent writes one job (JSON, into a memfd); the harness answers on the result channel with
records: a JSON object on one line each (its kind under "t"), followed by the `.npy` blobs whose
sizes its "b" key lists. Everything after the first record is a claim by untrusted code, checked
here as data. Every record after the first is authenticated with the run's key, which only the
parent and the harness hold (the job carries it; the submission cannot reach the harness's copy,
grader/seal.py): its line starts with two tags, one over the record's position and JSON, checked
before the JSON is parsed, one over its blobs, checked once they arrived. A record the harness did
not write (the submission writing into the result channel itself) is tampering.

Imported by the harness too (for the record kinds), so this module stays light: no spec, no checks.
"""

from __future__ import annotations

import enum
import hmac
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import TYPE_CHECKING, Any

from grader.values import DecodeBudget, DecodeError, decode

if TYPE_CHECKING:
    from grader.spec import Exercise, TestSpec


class Kind(enum.StrEnum):
    """The kinds of records the harness writes, in the order it writes them."""

    SETUP = "setup"  # the sandbox's layers, written before any submission code runs
    PROBE = "probe"  # what a probe job observed from inside (sandbox status)
    LOADING = "loading"  # the submission compiled; its module body runs next
    LOAD = "load"  # the module body ran: ok, or why the entry point is unusable
    BEGIN = "begin"  # a test starts (so a timeout can be blamed on it)
    TEST = "test"  # a test's step results, with their blobs
    DONE = "done"  # every test ran


# ---------------------------------------------------------------------------------------------
# record tags

TAG_BYTES = 16
TAG_CHARS = 2 * TAG_BYTES
# A tagged line: the JSON's tag, a space, the blobs' tag, a space, the JSON.
TAGS_CHARS = 2 * TAG_CHARS + 2


def line_tag(key: bytes, seq: int, line: Any) -> bytes:
    """The tag of record number `seq`'s JSON in a run with `key` (the first record, the setup,
    is number 0 and untagged)."""
    mac = blake2b(seq.to_bytes(8, "little") + b"L", key=key, digest_size=TAG_BYTES)
    mac.update(line)
    return mac.hexdigest().encode()


def blobs_tag(key: bytes, seq: int, blobs: Iterable[Any]) -> bytes:
    """The tag of record number `seq`'s blobs, in order."""
    mac = blake2b(seq.to_bytes(8, "little") + b"B", key=key, digest_size=TAG_BYTES)
    for blob in blobs:
        mac.update(blob)
    return mac.hexdigest().encode()


# ---------------------------------------------------------------------------------------------
# the job (parent -> sandbox)


# How many outputs of a `repeat` step the harness keeps as sources for later steps' `new_object`
# checks (each costs a walk of its objects at every later call): an exercise whose `new_object`
# check follows a step repeated more often is refused (grader/spec.py), as it could not be checked.
REMEMBERED_REPETITIONS = 8


def child_test(index: int, test: TestSpec) -> dict[str, Any]:
    """What the sandbox needs to run a test: inputs and actions, never the checks' parameters."""
    steps = []
    for step in test.steps:
        action = next(a for a in ("call", "new", "method", "get", "mutate", "train") if a in step)
        names = {c["check"] for c in step.get("expect", [])}
        steps.append(
            {
                "action": action,
                "body": step[action] if step[action] is not None else {},
                "repeat": step.get("repeat", 1),
                "raises": "raises" in names,
                "snapshot": "inputs_unchanged" in names,
                "memory": "new_object" in names,
            }
        )
    return {"index": index, "let": test.let, "steps": steps}


def build_job(exercise: Exercise, source: str, indices: Iterable[int]) -> dict[str, Any]:
    """A job that loads `source` and runs the exercise's tests with these indices, in order."""
    job = {
        "mode": "run",
        "source": source,
        "entry": {"name": exercise.entry.name, "kind": exercise.entry.kind},
        "tests": [child_test(i, exercise.tests[i]) for i in indices],
    }
    if exercise.lab is not None:
        job["lab"] = exercise.lab  # the training set-up of the exercise's `train` steps
    return job


def baseline_job(exercise: Exercise, source: str) -> dict[str, Any]:
    """A job of one made-up test, index 0: the lab's training run without any piece plugged in
    (the baseline the report shows beside the student's run)."""
    step = {"action": "train", "body": {"baseline": True}, "repeat": 1}
    step |= {"raises": False, "snapshot": False, "memory": False}
    return {**build_job(exercise, source, []), "tests": [{"index": 0, "let": {}, "steps": [step]}]}


# ---------------------------------------------------------------------------------------------
# the records (sandbox -> parent)


@dataclass
class Run:
    """What one sandboxed run reported, as far as it followed the protocol."""

    setup: dict[str, Any] | None = None
    load: dict[str, Any] | None = None
    loading: bool = False
    tests: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    began: list[int] = field(default_factory=list)
    probe: dict[str, Any] | None = None
    done: bool = False
    overflow: bool = False
    protocol_error: str | None = None
    status: dict[str, Any] = field(default_factory=dict)
    output: bytes = b""
    wall: float = 0.0


# Called with a test's index and decoded step results as soon as its record arrives.
OnTest = Callable[[int, list[dict[str, Any]]], None]

GARBAGE = "the submission wrote garbage into the result channel"
NPY_MIN = 64
TAMPERED = "the submission tampered with the result channel"
# Caps on what one run may make the parent build, checked before a record is parsed: JSON that
# costs little to send (`[],` is 3 bytes) can cost 20-40x as many bytes of Python objects.
MAX_LINE = 8 << 20  # bytes of one record's JSON
MAX_VALUES = 200_000  # JSON values in all records of a run (an upper bound, counted on the bytes)
TOO_MANY_VALUES = (
    f"the output is too large: more than {MAX_VALUES} values in one run "
    "(return numpy arrays rather than long Python lists)"
)


TEXT_TOO_LARGE = (
    f"the output is too large: a record whose text would take more than {MAX_LINE >> 20} MiB "
    "once decoded (return shorter strings)"
)
# The harness writes its records as ASCII JSON (every other character escaped): a string takes
# 1 byte per character in the parent, 2 with an escape beyond Latin-1, 4 with a surrogate (an
# astral character). The widest escape in a record bounds what json.loads makes of it.
_ASTRAL_ESCAPE = re.compile(rb"\\u[dD][89abAB]")
_WIDE_ESCAPE = re.compile(rb"\\u(?!00)")


def text_width(line: bytes | bytearray) -> int:
    """Bytes per character the strings of this ASCII JSON line may take once parsed."""
    if _ASTRAL_ESCAPE.search(line):
        return 4
    return 2 if _WIDE_ESCAPE.search(line) else 1


def _no_constants(name: str) -> Any:
    # The harness writes non-finite floats as {"$float": ...}, never as bare NaN/Infinity.
    raise ValueError(f"bare {name} in a record")


class RecordReader:
    """Parses the result channel while it arrives: records are JSON objects on one line each, then
    the blobs whose sizes their "b" key lists. The first record must be the harness's `setup`;
    the first one that breaks the protocol ends the parsing (`run.protocol_error`).
    `on_test(i, steps)` sees each decoded test as soon as its record is complete."""

    def __init__(
        self, run: Run, job: dict[str, Any] | None = None, on_test: OnTest | None = None
    ) -> None:
        self.run = run
        self.on_test = on_test
        # Only the tests this job holds: a run never reports on tests it was not given.
        self.indices = {t["index"] for t in (job or {}).get("tests", [])}
        self.values = 0
        self.buf = bytearray()
        self.pos = 0  # buf[:pos] is parsed
        self.scanned = 0  # no newline in buf[pos:scanned]
        # A record awaiting its blobs: the record, their sizes, the tag they must have.
        self.pending: tuple[dict[str, Any], list[int], bytes] | None = None
        key = (job or {}).get("key")
        self.key = bytes.fromhex(key) if isinstance(key, str) else None
        self.count = 0
        # What the run's decoded values may cost this process (values.MAX_DECODED).
        self.budget = DecodeBudget()
        self.begun: set[int] = set()
        self.stopped = False

    def feed(self, data: bytes) -> None:
        if self.stopped:
            return
        self.buf += data
        try:
            while not self.stopped and self._next():
                pass
        except Exception:  # whatever the bytes make the parser do, it is the submission's fault
            self._fail(GARBAGE)
        # Drop what was parsed once per read, not once per record: linear in the channel's size.
        del self.buf[: self.pos]
        self.scanned = max(0, self.scanned - self.pos)
        self.pos = 0

    def close(self) -> None:
        """End of the channel: an unfinished record is garbage."""
        if not self.stopped and (len(self.buf) > self.pos or self.pending):
            self._fail(GARBAGE)
        self.stopped = True

    def _fail(self, why: str) -> None:
        self.run.protocol_error = why
        self.run.done = False
        self.stopped = True

    def _next(self) -> bool:
        """Take one complete record off the buffer; False when more data is needed."""
        if self.pending is None:
            end = self.buf.find(b"\n", max(self.pos, self.scanned))
            if end < 0:
                self.scanned = len(self.buf)
                if self.scanned - self.pos > MAX_LINE:
                    raise ValueError("record too long")
                return False
            if end - self.pos > MAX_LINE:
                raise ValueError("record too long")
            start, blobs_mac = self.pos, b""
            if self.key is not None and self.count >= 1:
                # Whose record this is, before anything of it is parsed.
                start = self.pos + TAGS_CHARS
                tags = bytes(self.buf[self.pos : start])
                line = memoryview(self.buf)[start:end]
                try:
                    expected = line_tag(self.key, self.count, line)
                finally:
                    line.release()
                if not hmac.compare_digest(tags[:TAG_CHARS], expected):
                    self._fail(TAMPERED)
                    return False
                blobs_mac = tags[TAG_CHARS + 1 : 2 * TAG_CHARS + 1]
            # Every value but the first follows a comma or opens a list or object: an upper bound
            # on what json.loads would build, counted in C before it builds anything.
            self.values += 1 + sum(self.buf.count(c, start, end) for c in (b",", b"[", b"{"))
            if self.values > MAX_VALUES:
                self._fail(TOO_MANY_VALUES)
                return False
            raw = self.buf[start:end]
            if not raw.isascii():
                raise ValueError("a record that is not ASCII JSON")
            if text_width(raw) * len(raw) > MAX_LINE:
                self._fail(TEXT_TOO_LARGE)
                return False
            record = json.loads(raw, parse_constant=_no_constants)
            del raw
            if not isinstance(record, dict):
                raise ValueError("not an object")
            sizes = record.pop("b", [])
            # Every `.npy` blob has a header of at least NPY_MIN bytes: that bounds how many there
            # can be in the capped channel.
            if not isinstance(sizes, list) or not all(
                type(n) is int and n >= NPY_MIN for n in sizes
            ):
                raise ValueError("bad blob sizes")
            self.pos = end + 1
            self.pending = (record, sizes, blobs_mac)
        record, sizes, blobs_mac = self.pending
        total = sum(sizes)
        if len(self.buf) - self.pos < total:
            return False
        # The blobs are read where they are, not copied out first: at the result cap a copy
        # would double what the channel costs this process. Every view is released before the
        # buffer is next resized (decoded arrays are copies, nothing keeps a view).
        views = [memoryview(self.buf)]
        views.append(views[0][self.pos : self.pos + total])
        try:
            self.pos += total
            self.pending = None
            if self.key is not None and self.count >= 1:
                expected = blobs_tag(self.key, self.count, [views[1]])
                if not hmac.compare_digest(blobs_mac, expected):
                    self._fail(TAMPERED)
                    return False
            pos = 0
            for n in sizes:
                views.append(views[1][pos : pos + n])
                pos += n
            self._handle(record, views[2:])
        finally:
            for view in reversed(views):
                view.release()
        return True

    def _handle(self, record: dict[str, Any], blobs: list[memoryview]) -> None:
        run = self.run
        kind = record.get("t")
        self.count += 1
        if self.count == 1:
            # Written before any submission code ran: the only record taken at face value.
            if kind != Kind.SETUP or not isinstance(record.get("layers"), dict):
                self._fail("the sandbox did not report its set-up")
                return
            run.setup = record
            return
        try:
            if kind == Kind.PROBE:
                run.probe = record["seen"]
            elif kind == Kind.LOADING:
                run.loading = True
            elif kind == Kind.LOAD:
                if run.load is not None:
                    raise ValueError("duplicate load")
                load = {"ok": record["ok"] is True, "kind": text(record.get("kind", ""), 20)}
                if load["kind"] == "syntax" and run.loading:
                    raise ValueError("a syntax error after the source compiled")
                if "message" in record:
                    load["message"] = text(record["message"], 2000)
                if "exc" in record:
                    load["exc"] = exception(record["exc"])
                run.load = load
            elif kind == Kind.BEGIN:
                i = self._index(record)
                if i in self.begun:
                    raise ValueError("duplicate begin")
                self.begun.add(i)
                run.began.append(i)
            elif kind == Kind.TEST:
                i = self._index(record)
                if i in run.tests:
                    raise ValueError("duplicate test")
                run.tests[i] = steps = [decode_step(s, blobs, self.budget) for s in record["steps"]]
                if self.on_test is not None:
                    self.on_test(i, steps)
            elif kind == Kind.DONE:
                run.done = True
            else:
                raise ValueError("unknown record")
        except Exception:  # a record that breaks the protocol, however it breaks it
            self._fail(TAMPERED)

    def _index(self, record: dict[str, Any]) -> int:
        i = record["i"]
        if type(i) is not int or i not in self.indices:
            raise ValueError("a test this job does not hold")
        return i


def decode_step(
    step: Any, blobs: list[memoryview], budget: DecodeBudget | None = None
) -> dict[str, Any]:
    if not isinstance(step, dict):
        raise DecodeError("step is not an object")
    out: dict[str, Any] = {}
    if "out" in step:
        out["out"] = decode(step["out"], blobs, budget=budget)
    if "after" in step:
        out["after"] = decode(step["after"], blobs, budget=budget)
    if "after_rep" in step:
        rep = step["after_rep"]
        if rep is not None and (type(rep) is not int or rep < 0):
            raise DecodeError("malformed repetition")
        out["after_rep"] = rep
    if "signature" in step:
        out["signature"] = text(step["signature"], 2000)
    if "shared" in step:
        out["shared"] = decode_shared(step["shared"])
    if "replaced" in step:
        out["replaced"] = decode_replaced(step["replaced"])
    if "exc" in step:
        out["exc"] = exception(step["exc"])
    if not out:
        raise DecodeError("empty step result")
    return out


def exception(exc: Any) -> dict[str, Any]:
    """An exception as the harness describes it, with every field bounded and printable."""
    if not isinstance(exc, dict):
        raise DecodeError("malformed exception")
    bases, tb = exc.get("builtin_bases", []), exc.get("traceback", [])
    if not isinstance(bases, list) or not isinstance(tb, list):
        raise DecodeError("malformed exception")
    return {
        "type": text(exc.get("type", "Exception"), 100),
        "builtin_bases": [text(b, 100) for b in bases[:20]],
        "message": text(exc.get("message", ""), 2000),
        "traceback": [text(x, 300) for x in tb[:40]],
        "raised_by": text(exc.get("raised_by", "unknown"), 40),
    }


def text(value: Any, limit: int) -> str:
    """A string from the sandbox as feedback may show it: at most `limit` characters, valid UTF-8
    (no lone surrogates) and no NUL (which PostgreSQL text cannot hold)."""
    if not isinstance(value, str):
        raise DecodeError("a text field is not a string")
    return value[:limit].encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def _path(path: Any) -> list[int | str]:
    if not isinstance(path, list) or len(path) > 40:
        raise DecodeError("malformed path")
    return [k if type(k) is int else str(k)[:100] for k in path if type(k) in (int, str)]


def decode_replaced(replaced: Any) -> list[list[int | str]]:
    """The child's finding that a call put other objects into the caller's lists or dicts (see
    `_child._replaced`): their paths, each `["arg", position or name, ...]`."""
    if not isinstance(replaced, list):
        raise DecodeError("malformed report of replaced arguments")
    paths = [_path(p) for p in replaced[:16]]
    if any(len(p) < 2 or p[0] != "arg" for p in paths):
        raise DecodeError("malformed report of replaced arguments")
    return paths


def decode_shared(shared: Any) -> list[dict[str, Any]]:
    """The child's `new_object` findings (see `_child._sharing`), re-built from checked parts."""
    if not isinstance(shared, list):
        raise DecodeError("malformed memory report")

    keys = _path

    out = []
    for entry in shared[:16]:
        label = entry.get("with") if isinstance(entry, dict) else None
        if not isinstance(label, list) or len(label) != 3 or label[0] not in ("arg", "let", "out"):
            raise DecodeError("malformed memory report")
        key = keys([label[1]])
        rep = entry.get("rep")
        out.append(
            {
                "rep": rep if type(rep) is int else None,
                "at": keys(entry.get("at", [])),
                "with": [label[0], key[0] if key else 0, keys(label[2])],
                "how": "same" if entry.get("how") == "same" else "memory",
            }
        )
    return out
