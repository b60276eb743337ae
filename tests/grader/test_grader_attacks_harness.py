"""Attacks on the harness inside the sandbox: a submission that rewrites how its own calls are
observed, to pass the checks only the harness can make (`new_object`, `inputs_unchanged`) with
code that fails them, or that writes records of its own into the result channel.

The harness is a sealed copy (grader/seal.py) that nothing in the submission's reach refers to;
its audit hook refuses frames, the collector's view and tracers; a job starts no thread and sets no
signal handler; every record after the first carries tags of the run's key (grader/protocol.py).

Every attack is a real submission through the real sandbox (tight limits, no process left behind),
on the bundled `clip-grad-norm` exercise, whose "returns new arrays" test catches a function that
hands back its caller's list when nothing needs clipping.
"""

from __future__ import annotations

import secrets
import textwrap

import pytest
from grader_helpers import full_marks

from grader import Grader
from grader.cli import EXERCISES_DIR, resolve_exercise
from grader.protocol import TAMPERED, RecordReader, Run, blobs_tag, line_tag

pytestmark = pytest.mark.usefixtures("leaves_nothing")

EXERCISE = resolve_exercise("clip-grad-norm")
ALIASING = (EXERCISES_DIR / "clip-grad-norm/mutants/returns_grads_below_threshold.py").read_text()
ALIASING_TEST = "returns new arrays"
# What each attack would rewrite to pass that test: the harness's finding that the output is the
# caller's list ("shared" in the step's record).
NO_FINDINGS = "lambda *args, **kwargs: []"

TAMPERING = {
    "rewriting json.dumps": """
        import json
        _dumps = json.dumps

        def _forged(record, *args, **kwargs):
            for step in record.get("steps", []) if isinstance(record, dict) else []:
                if "shared" in step:
                    step["shared"] = []
            return _dumps(record, *args, **kwargs)

        json.dumps = _forged
        """,
    "rewriting os.writev": """
        import os
        _writev = os.writev

        def _forged(fd, buffers):
            buffers = [bytes(b) for b in buffers]
            buffers[0] = buffers[0].replace(b'"shared":[{', b'"shared":[],"x":[{')
            return _writev(fd, buffers)

        os.writev = _forged
        """,
    "rewriting numpy and builtins": """
        import builtins
        import numpy as np

        np.shares_memory = np.may_share_memory = lambda *args, **kwargs: False
        _isinstance = builtins.isinstance
        builtins.isinstance = lambda o, t: False if t is np.ndarray else _isinstance(o, t)
        """,
    "the loading frame's globals": f"""
        import sys

        sys._getframe(1).f_globals["_sharing"] = {NO_FINDINGS}
        """,
    "a traceback's frames": f"""
        def _climb():
            try:
                raise KeyError
            except KeyError as exc:
                frame = exc.__traceback__.tb_frame
            while frame is not None:
                if "_sharing" in frame.f_globals:
                    frame.f_globals["_sharing"] = {NO_FINDINGS}
                frame = frame.f_back

        _climb()
        """,
    "a running generator's frame": f"""
        def _frames():
            frame = _me.gi_frame.f_back
            while frame is not None:
                if "_sharing" in frame.f_globals:
                    frame.f_globals["_sharing"] = {NO_FINDINGS}
                frame = frame.f_back
            yield

        _me = _frames()
        next(_me)
        """,
    "the class hierarchy": f"""
        _seen = set()
        _classes = list(object.__subclasses__())
        while _classes:
            _cls = _classes.pop()
            if id(_cls) in _seen:
                continue
            _seen.add(id(_cls))
            try:
                _classes.extend(type.__subclasses__(_cls))
            except TypeError:
                pass
            for _value in list(vars(_cls).values()):
                _space = getattr(_value, "__globals__", None)
                if isinstance(_space, dict) and "_sharing" in _space:
                    _space["_sharing"] = {NO_FINDINGS}
        """,
    "the garbage collector": f"""
        import gc

        for _space in gc.get_objects():
            if isinstance(_space, dict) and "_sharing" in _space:
                _space["_sharing"] = {NO_FINDINGS}
        """,
    "a tracer": f"""
        import sys

        def _trace(frame, event, arg):
            if "_sharing" in frame.f_globals:
                frame.f_globals["_sharing"] = {NO_FINDINGS}
            return None

        sys.setprofile(_trace)
        """,
    "a signal handler": f"""
        import signal

        def _handler(signum, frame):
            while frame is not None:
                if "_sharing" in frame.f_globals:
                    frame.f_globals["_sharing"] = {NO_FINDINGS}
                frame = frame.f_back

        signal.signal(signal.SIGALRM, _handler)
        signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
        """,
    "a thread": f"""
        import sys
        import threading

        def _spy():
            for _ in range(200000):
                for frame in sys._current_frames().values():
                    while frame is not None:
                        if "_sharing" in frame.f_globals:
                            frame.f_globals["_sharing"] = {NO_FINDINGS}
                        frame = frame.f_back

        threading.Thread(target=_spy, daemon=True).start()
        """,
    "the C API through ctypes": f"""
        import ctypes

        _get_frame = ctypes.pythonapi.PyEval_GetFrame
        _get_frame.restype = ctypes.py_object

        def _climb():
            frame = _get_frame()
            while frame is not None:
                if "_sharing" in frame.f_globals:
                    frame.f_globals["_sharing"] = {NO_FINDINGS}
                frame = frame.f_back

        _climb()
        """,
    "an audit hook of its own": f"""
        import sys

        def _hook(event, args):
            if event == "object.__getattr__" and args[1] == "tb_frame":
                frame = args[0].tb_frame
                while frame is not None:
                    if "_sharing" in frame.f_globals:
                        frame.f_globals["_sharing"] = {NO_FINDINGS}
                    frame = frame.f_back

        sys.addaudithook(_hook)
        """,
}


def tampered(attack: str, code: str) -> str:
    """The attack, guarded so that a refusal leaves the code below it to run, then `code`."""
    body = textwrap.indent(textwrap.dedent(TAMPERING[attack]).strip(), "    ")
    return f"try:\n{body}\nexcept (ValueError, RuntimeError, OSError):\n    pass\n\n{code}"


@pytest.mark.parametrize("attack", list(TAMPERING))
def test_rewriting_the_harness_passes_no_check(grader: Grader, attack: str) -> None:
    report = grader.grade(EXERCISE, tampered(attack, ALIASING))
    assert report.status == "graded", report.feedback
    by_name = {t.name: t for t in report.tests}
    assert not by_name[ALIASING_TEST].passed, report.to_dict()
    assert "itself, not a new object" in by_name[ALIASING_TEST].message
    assert not full_marks(report)


@pytest.mark.parametrize("attack", list(TAMPERING))
def test_a_refused_attack_leaves_a_correct_answer_its_marks(grader: Grader, attack: str) -> None:
    # The attack is refused or changes nothing; grading of the rest goes on as usual.
    report = grader.grade(EXERCISE, tampered(attack, EXERCISE.reference))
    assert full_marks(report), [(t.name, t.message) for t in report.tests if not t.passed]


FORGER = """
import json
import math
import os

import numpy as np


def _npy(arr, blobs):
    text = "{'descr': '%s', 'fortran_order': False, 'shape': %r, }" % (arr.dtype.str, arr.shape)
    header = (text + " " * (-(len(text) + 11) % 64) + "\\n").encode()
    size = len(header).to_bytes(2, "little")
    blobs.append(b"\\x93NUMPY\\x01\\x00" + size + header + arr.tobytes())
    return {"$nd": len(blobs) - 1}


def clip_grad_norm(grads, max_norm, eps=1e-6):
    # The right answer of the first test, as the harness would report it (it has just written
    # that the test begins); then the run ends before the harness writes anything more.
    total = math.sqrt(sum(float(np.sum(np.square(g))) for g in grads))
    scale = max_norm / (total + eps) if total > max_norm else 1.0
    blobs = []
    out = {"$tuple": [[_npy(np.asarray(g) * scale, blobs) for g in grads], total]}
    record = {"t": "test", "i": 0, "steps": [{"out": out}], "b": [len(b) for b in blobs]}
    os.write(3, json.dumps(record).encode() + b"\\n" + b"".join(blobs))
    os.write(3, b'{"t":"done"}\\n')
    os._exit(0)
"""


def test_records_the_submission_writes_itself_are_tampering(grader: Grader) -> None:
    # Well-formed records with the right output of the first test, written into the result
    # channel by the submission itself: without the run's key they are tampering, not marks.
    report = grader.grade(EXERCISE, FORGER)
    assert report.score == 0, report.to_dict()
    assert "tampered" in report.tests[0].message, report.tests[0].message


def _tagged(key: bytes, seq: int, json_line: bytes) -> bytes:
    return line_tag(key, seq, json_line) + b" " + blobs_tag(key, seq, ()) + b" " + json_line + b"\n"


SETUP = b'{"t":"setup","layers":{}}\n'


def test_records_need_the_runs_key_and_their_place() -> None:
    # The parent alone: right tags pass; no tags, another run's key, or a record moved to another
    # place in the channel (replayed, reordered, one dropped) is tampering.
    key, other = secrets.token_bytes(16), secrets.token_bytes(16)
    job = {"tests": [{"index": 0}], "key": key.hex()}
    loading, load = b'{"t":"loading"}', b'{"t":"load","ok":true}'

    def read(data: bytes) -> Run:
        run = Run()
        reader = RecordReader(run, job)
        reader.feed(data)
        reader.close()
        return run

    good = read(SETUP + _tagged(key, 1, loading) + _tagged(key, 2, load))
    assert good.protocol_error is None and good.load == {"ok": True, "kind": ""}
    for forged in (
        SETUP + loading + b"\n",
        SETUP + _tagged(other, 1, loading),
        SETUP + _tagged(key, 2, loading),
        SETUP + _tagged(key, 1, loading) + _tagged(key, 1, load),
        SETUP + _tagged(key, 2, load) + _tagged(key, 1, loading),
    ):
        assert read(forged).protocol_error == TAMPERED
    # The tag covers the blobs: the same record with other array bytes is tampering.
    record = b'{"t":"test","i":0,"steps":[{"out":{"$nd":0}}],"b":[64]}'
    tags = line_tag(key, 1, record) + b" " + blobs_tag(key, 1, [b"a" * 64]) + b" "
    assert read(SETUP + tags + record + b"\n" + b"a" * 63 + b"b").protocol_error == TAMPERED


# Found by a red-team round on the sealed harness: its own code ran the submission's while it
# observed, or left its frames behind as garbage.
LEFT_AS_GARBAGE = """
import gc
import types


class _Repr:
    def __repr__(self):  # run by inspect.signature in the harness, whose `except` swallows it
        exc = ValueError("x")
        exc.cycle = exc  # garbage in a cycle once the harness drops it, its traceback with it
        raise exc


def _patch():
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    for found in gc.garbage:
        if type(found) is types.FrameType and "_sharing" in found.f_globals:
            found.f_globals["_sharing"] = lambda *args, **kwargs: []
    gc.garbage.clear()
    gc.set_debug(0)


{mutant}

_mutant = clip_grad_norm


def clip_grad_norm(grads, max_norm, eps=1e-6):
    _patch()
    return _mutant(grads, max_norm, eps)


clip_grad_norm.__signature__ = _Repr()
"""


def test_the_harness_leaves_no_frame_behind_as_garbage(grader: Grader) -> None:
    source = LEFT_AS_GARBAGE.replace("{mutant}", ALIASING)
    report = grader.grade(EXERCISE, source)
    by_name = {t.name: t for t in report.tests}
    assert not by_name[ALIASING_TEST].passed, report.to_dict()


IN_PLACE = (EXERCISES_DIR / "clip-grad-norm/mutants/scales_in_place.py").read_text()
UNDONE_WHILE_OBSERVED = '''
import numpy as np


class _Undo:
    """Puts the caller's arrays back the second time the harness asks what it is."""

    def __init__(self, saved):
        self.saved, self.seen = saved, 0

    @property
    def __class__(self):
        self.seen += 1
        if self.seen == 2:
            for array, copy in self.saved:
                array[...] = copy
        return _Undo


{mutant}

_mutant = clip_grad_norm


def clip_grad_norm(grads, max_norm, eps=1e-6):
    arrays = list(grads.values()) if isinstance(grads, dict) else list(grads)
    saved = [(a, a.copy()) for a in arrays]
    out = _mutant(grads, max_norm, eps)
    return (*out, _Undo(saved))
'''


def test_the_harness_runs_no_code_of_the_output_while_it_looks_at_it(grader: Grader) -> None:
    # isinstance() asks an object's `__class__`, which may be a property: the harness looks at
    # types only, so nothing can put the inputs back between the call and their snapshot.
    report = grader.grade(EXERCISE, UNDONE_WHILE_OBSERVED.replace("{mutant}", IN_PLACE))
    by_name = {t.name: t for t in report.tests}
    assert not by_name["inputs are left unchanged"].passed, report.to_dict()
    assert "changed in place" in by_name["inputs are left unchanged"].message


SWAPPED_CONTAINERS = """
import numpy as np


def clip_grad_norm(grads, max_norm, eps=1e-6):
    # The caller's own arrays scaled in place and handed back, copies put into the caller's
    # container in their place: what the container holds after the call looks untouched.
    keys = list(grads) if isinstance(grads, dict) else range(len(grads))
    originals = [grads[k] for k in keys]
    total = float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in originals)))
    for k, g in zip(keys, originals):
        grads[k] = g.copy()
    if total > max_norm:
        for g in originals:
            g *= max_norm / (total + eps)
    if isinstance(grads, dict):
        return dict(zip(keys, originals)), total
    return list(originals), total
"""

RESTORED_BY_A_FINALIZER = """
import gc

import numpy as np


class _Restore:
    def __init__(self, saved):
        self.saved, self.cycle = saved, self  # a cycle: freed at the next collection

    def __del__(self):
        for array, copy in self.saved:
            array[...] = copy


def clip_grad_norm(grads, max_norm, eps=1e-6):
    arrays = list(grads.values()) if isinstance(grads, dict) else list(grads)
    total = float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in arrays)))
    scale = max_norm / (total + eps) if total > max_norm else 1.0
    gc.set_threshold(100000)  # no collection before the call returns
    restore = _Restore([(a, a.copy()) for a in arrays])
    for g in arrays:
        g *= scale  # the caller's arrays, scaled in place
    out = [g.copy() for g in arrays]
    del restore
    result = (dict(zip(grads, out)), total) if isinstance(grads, dict) else (out, total)
    gc.set_threshold(1)  # the next allocation collects: the harness's
    return result
"""


@pytest.mark.parametrize(
    ("source", "failing"),
    [
        (SWAPPED_CONTAINERS, {ALIASING_TEST, "inputs are left unchanged"}),
        (RESTORED_BY_A_FINALIZER, {"inputs are left unchanged"}),
    ],
    ids=["copies swapped into the caller's containers", "inputs put back by a finalizer"],
)
def test_what_a_call_changed_shows_whatever_it_does_afterwards(
    grader: Grader, source: str, failing: set[str]
) -> None:
    # The arguments are taken before the call and looked at with the collector off right after.
    report = grader.grade(EXERCISE, source)
    assert failing <= {t.name for t in report.tests if not t.passed}, report.to_dict()


RAW_MEMORY = """
import numpy as np


class _Raw:  # an object array over a traceback's frame slot: no system call, no audit event
    def __init__(self, address):
        self.__array_interface__ = {
            "data": (address, True), "typestr": "|O", "shape": (1,), "version": 3,
        }


try:
    raise KeyError
except KeyError as _exc:
    _frame = np.asarray(_Raw(id(_exc.__traceback__) + 3 * np.dtype(np.intp).itemsize))[0]
while _frame is not None:
    if "_sharing" in _frame.f_globals:
        _frame.f_globals["_sharing"] = lambda *args, **kwargs: []
    _frame = _frame.f_back
del _frame

{mutant}
"""


@pytest.mark.xfail(
    strict=True,
    reason="open (grader/SPEC.md, 'The harness inside the job'): numpy builds an array over any "
    "address, so the submission reads and writes its own process's memory, the harness's included",
)
def test_raw_memory_access_cannot_rewrite_the_harness(grader: Grader) -> None:
    report = grader.grade(EXERCISE, RAW_MEMORY.replace("{mutant}", ALIASING))
    by_name = {t.name: t for t in report.tests}
    assert not by_name[ALIASING_TEST].passed
