"""Mutants generated from an exercise's reference, to prove its tests (see grader/SPEC.md).

Each operator walks the reference's syntax tree (Python's `ast`) and proposes a replacement for one
node: a comparison flipped at its boundary, a range bound off by one, `p` for `1 - p`, another axis,
a dropped `keepdims` or `.copy()`, an input returned as the result, swapped arguments, a dropped
term, a changed dtype, a removed validation. The mutant's source is the reference with only that
node's text replaced (so the diff is the one line a student would have written differently).

Nothing here runs the code: mutants are graded by the grader's sandbox like any submission.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import dataclasses
import difflib
import hashlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader import Exercise, Grader, GradeReport
    from grader.spec import TestSpec

# At most this many generated mutants are graded per exercise (spread over the operators, see
# `select`), so `holdout bank check` stays affordable: each one is a full grading run.
DEFAULT_CAP = 64

# Names that usually hold a probability or a mixing weight: `p` <-> `1 - p` applies to them.
PROBABILITY_NAMES = frozenset(
    {"p", "prob", "rate", "keep_prob", "drop_prob", "drop_rate", "lam", "smoothing"}
)
_COMPARE_FLIPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_REDUCTION_SWAPS = {
    "mean": "sum",
    "sum": "mean",
    "max": "min",
    "min": "max",
    "amax": "amin",
    "amin": "amax",
    "argmax": "argmin",
    "argmin": "argmax",
    "maximum": "minimum",
    "minimum": "maximum",
}
_OTHER_AXES = {0: (1,), 1: (0,), -1: (0,), 2: (1,)}
_RANGE_FUNCS = frozenset({"range", "integers", "arange"})
_ATOMS = (ast.Name, ast.Constant, ast.Attribute, ast.Call, ast.Subscript)


@dataclass(frozen=True)
class Mutant:
    id: str  # stable: operator, line, and a hash of the changed lines
    operator: str
    line: int
    diff: str  # unified diff against the reference
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "operator": self.operator, "line": self.line, "diff": self.diff}


# A proposal: the node (expression or statement) whose source text is replaced, and the new text.
Proposal = tuple[ast.AST, str]
Operator = Callable[[ast.Module], Iterator[Proposal]]
OPERATORS: dict[str, Operator] = {}


def operator(name: str) -> Callable[[Operator], Operator]:
    def register(fn: Operator) -> Operator:
        OPERATORS[name] = fn
        return fn

    return register


def _text(node: ast.AST) -> str:
    """Source for a replacement expression, parenthesized unless it is atomic, so it keeps its
    meaning whatever operator surrounds it."""
    text = ast.unparse(node)
    return text if isinstance(node, _ATOMS) else f"({text})"


def _with(node: ast.AST, **changes: Any) -> ast.AST:
    new = copy.copy(node)
    for key, value in changes.items():
        setattr(new, key, value)
    return new


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _nodes(tree: ast.Module, kind: type[ast.AST] | tuple[type[ast.AST], ...]) -> Iterator[Any]:
    for node in ast.walk(tree):
        if isinstance(node, kind):
            yield node


# --------------------------------------------------------------------------------------------
# the operators


@operator("comparison")
def _comparison(tree: ast.Module) -> Iterator[Proposal]:
    """`<` <-> `<=`, `>` <-> `>=`, `==` <-> `!=`: boundary cases and inverted conditions."""
    for node in _nodes(tree, ast.Compare):
        for i, op in enumerate(node.ops):
            flip = _COMPARE_FLIPS.get(type(op))
            if flip is not None:
                ops = [*node.ops[:i], flip(), *node.ops[i + 1 :]]
                yield node, _text(_with(node, ops=ops))


@operator("off_by_one")
def _off_by_one(tree: ast.Module) -> Iterator[Proposal]:
    """A bound of `range`, `rng.integers` or `np.arange`, or of a slice, one more or one less."""
    bounds: list[ast.expr] = []
    for call in _nodes(tree, ast.Call):
        if _call_name(call) in _RANGE_FUNCS:
            bounds.extend(call.args[:2])
    for sl in _nodes(tree, ast.Slice):
        bounds.extend(b for b in (sl.lower, sl.upper) if b is not None)
    for bound in bounds:
        for op in (ast.Add(), ast.Sub()):
            yield bound, _text(ast.BinOp(bound, op, ast.Constant(1)))


@operator("complement")
def _complement(tree: ast.Module) -> Iterator[Proposal]:
    """`1 - p` -> `p`, and a probability `p` -> `1 - p` (keep versus drop probability)."""
    for node in _nodes(tree, ast.BinOp):
        if (
            isinstance(node.op, ast.Sub)
            and isinstance(node.left, ast.Constant)
            and node.left.value == 1
        ):
            yield node, _text(node.right)
    for node in _nodes(tree, ast.Name):
        if isinstance(node.ctx, ast.Load) and node.id in PROBABILITY_NAMES:
            yield node, _text(ast.BinOp(ast.Constant(1), ast.Sub(), node))


@operator("axis")
def _axis(tree: ast.Module) -> Iterator[Proposal]:
    """A reduction over another axis, or over the whole array (global instead of per row)."""
    for call in _nodes(tree, ast.Call):
        for kw in call.keywords:
            if kw.arg != "axis":
                continue
            if isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, int):
                for other in _OTHER_AXES.get(kw.value.value, ()):
                    yield kw.value, repr(other)
            rest = [k for k in call.keywords if k is not kw]
            yield call, _text(_with(call, keywords=rest))


@operator("keepdims")
def _keepdims(tree: ast.Module) -> Iterator[Proposal]:
    """`keepdims=True` dropped: the reduced axis disappears and broadcasting goes astray."""
    for call in _nodes(tree, ast.Call):
        rest = [k for k in call.keywords if k.arg != "keepdims"]
        if len(rest) != len(call.keywords):
            yield call, _text(_with(call, keywords=rest))


@operator("reduction")
def _reduction(tree: ast.Module) -> Iterator[Proposal]:
    """`mean` <-> `sum`, `max` <-> `min` (and their numpy cousins)."""
    for call in _nodes(tree, ast.Call):
        if isinstance(call.func, ast.Attribute) and call.func.attr in _REDUCTION_SWAPS:
            func = _with(call.func, attr=_REDUCTION_SWAPS[call.func.attr])
            yield call, _text(_with(call, func=func))


@operator("no_copy")
def _no_copy(tree: ast.Module) -> Iterator[Proposal]:
    """`.copy()` removed, `np.copy(x)` / `np.array(x)` -> `x`, `copy=True` -> `copy=False`:
    the result shares memory with an input."""
    for call in _nodes(tree, ast.Call):
        name = _call_name(call)
        on_numpy = (
            isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "np"
        )
        if name == "copy" and isinstance(call.func, ast.Attribute) and not call.args:
            if not on_numpy:
                yield call, _text(call.func.value)
        elif name in ("copy", "array") and call.args and on_numpy:
            yield call, _text(call.args[0])
        for kw in call.keywords:
            if kw.arg == "copy" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                yield kw.value, "False"


@operator("in_place")
def _in_place(tree: ast.Module) -> Iterator[Proposal]:
    """`a = a + b` -> `a += b`: on an array that is (or aliases) an argument, the caller's array
    changes."""
    ops = (ast.Add, ast.Sub, ast.Mult, ast.Div)
    for node in _nodes(tree, ast.Assign):
        target, value = node.targets[0], node.value
        if (
            len(node.targets) == 1
            and isinstance(target, ast.Name)
            and isinstance(value, ast.BinOp)
            and isinstance(value.op, ops)
            and isinstance(value.left, ast.Name)
            and value.left.id == target.id
        ):
            aug = ast.AugAssign(ast.Name(target.id, ast.Store()), value.op, value.right)
            yield node, ast.unparse(aug)


@operator("return_input")
def _return_input(tree: ast.Module) -> Iterator[Proposal]:
    """A function returns its first input (or, in a tuple, puts it in place of an element)."""
    for fn in _nodes(tree, ast.FunctionDef):
        params = [a.arg for a in fn.args.posonlyargs + fn.args.args if a.arg not in ("self", "cls")]
        if not params:
            continue
        for ret in _nodes(fn, ast.Return):
            if ret.value is None:
                continue
            values = ret.value.elts if isinstance(ret.value, ast.Tuple) else [ret.value]
            for value in values:
                if not (isinstance(value, ast.Name) and value.id == params[0]):
                    yield value, params[0]


@operator("swap_args")
def _swap_args(tree: ast.Module) -> Iterator[Proposal]:
    """The first two arguments of a call swapped; the operands of `-`, `/`, `**`, `@` swapped."""
    for call in _nodes(tree, ast.Call):
        if len(call.args) >= 2 and not any(isinstance(a, ast.Starred) for a in call.args[:2]):
            args = [call.args[1], call.args[0], *call.args[2:]]
            yield call, _text(_with(call, args=args))
    for node in _nodes(tree, ast.BinOp):
        if isinstance(node.op, ast.Sub | ast.Div | ast.Pow | ast.MatMult | ast.FloorDiv):
            yield node, _text(_with(node, left=node.right, right=node.left))


@operator("drop_term")
def _drop_term(tree: ast.Module) -> Iterator[Proposal]:
    """One side of `+`, `-`, `*`, `/` dropped: a forgotten term, factor or divisor."""
    for node in _nodes(tree, ast.BinOp):
        if isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
            yield node, _text(node.left)
        if isinstance(node.op, ast.Add | ast.Mult):
            yield node, _text(node.right)


@operator("dtype")
def _dtype(tree: ast.Module) -> Iterator[Proposal]:
    """`.astype(...)` or `dtype=` dropped, float32 <-> float64, the result cast to float64."""
    floats = {"float32": "float64", "float64": "float32"}
    for call in _nodes(tree, ast.Call):
        if _call_name(call) == "astype" and isinstance(call.func, ast.Attribute):
            yield call, _text(call.func.value)
        rest = [k for k in call.keywords if k.arg != "dtype"]
        if len(rest) != len(call.keywords):
            yield call, _text(_with(call, keywords=rest))
    for node in _nodes(tree, ast.Attribute):
        if node.attr in floats and isinstance(node.ctx, ast.Load):
            yield node, _text(_with(node, attr=floats[node.attr]))
    if not any(a.asname == "np" for imp in _nodes(tree, ast.Import) for a in imp.names):
        return  # the cast below needs `import numpy as np`
    for ret in _nodes(tree, ast.Return):
        if ret.value is None:
            continue
        values = ret.value.elts if isinstance(ret.value, ast.Tuple) else [ret.value]
        for value in values:
            if not isinstance(value, ast.Constant):
                yield value, f"np.asarray({ast.unparse(value)}, dtype=np.float64)"


@operator("no_validation")
def _no_validation(tree: ast.Module) -> Iterator[Proposal]:
    """An `if ...: raise` check removed: invalid arguments go through."""
    for node in _nodes(tree, ast.If):
        if len(node.body) == 1 and isinstance(node.body[0], ast.Raise) and not node.orelse:
            yield node, "pass"


# --------------------------------------------------------------------------------------------
# applying and selecting


def _splice(source: str, node: ast.AST, text: str) -> str:
    """`source` with `node`'s text replaced by `text` (ast offsets are UTF-8 byte offsets)."""
    lines = source.splitlines(keepends=True)
    start, end = node.lineno - 1, node.end_lineno - 1  # type: ignore[attr-defined]
    head = lines[start].encode()[: node.col_offset].decode()  # type: ignore[attr-defined]
    tail = lines[end].encode()[node.end_col_offset :].decode()  # type: ignore[attr-defined]
    return "".join([*lines[:start], head, text, tail, *lines[end + 1 :]])


def _diff(source: str, mutated: str) -> str:
    return "".join(
        difflib.unified_diff(
            source.splitlines(keepends=True),
            mutated.splitlines(keepends=True),
            "reference.py",
            "mutant.py",
            n=1,
        )
    )


def mutant_id(operator_name: str, line: int, diff: str) -> str:
    """Stable across edits elsewhere in the file: only the changed lines are hashed."""
    changed = [
        ln[0] + ln[1:].strip()
        for ln in diff.splitlines()
        if ln[:1] in "+-" and not ln.startswith(("+++", "---"))
    ]
    digest = hashlib.sha256("\n".join(changed).encode()).hexdigest()[:8]
    return f"{operator_name}:{line}:{digest}"


def all_mutants(source: str) -> list[Mutant]:
    """Every distinct mutant the operators propose, in operator then source order. A mutant whose
    syntax tree equals the reference's, or an earlier mutant's, is left out."""
    if not source.endswith("\n"):
        source += "\n"
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # the reference itself is broken: check_exercise reports that
    seen = {ast.dump(tree)}
    # An error message's text is not graded: mutating it gives equivalent mutants only.
    in_raise = {id(n) for r in _nodes(tree, ast.Raise) for n in ast.walk(r)}
    found: list[Mutant] = []
    for name, op in OPERATORS.items():
        proposals = sorted(
            (p for p in op(tree) if id(p[0]) not in in_raise),
            key=lambda p: (p[0].lineno, p[0].col_offset),  # type: ignore[attr-defined]
        )
        for node, text in proposals:
            mutated = _splice(source, node, text)
            try:
                dumped = ast.dump(ast.parse(mutated))
            except SyntaxError:
                continue
            if text.startswith("(") and text.endswith(")"):
                # Without the parentheses where the context does not need them (same tree).
                bare = _splice(source, node, text[1:-1])
                with contextlib.suppress(SyntaxError):
                    if ast.dump(ast.parse(bare)) == dumped:
                        mutated = bare
            if dumped in seen:
                continue
            seen.add(dumped)
            diff = _diff(source, mutated)
            line = node.lineno  # type: ignore[attr-defined]
            found.append(Mutant(mutant_id(name, line, diff), name, line, diff, mutated))
    return found


def select(mutants: list[Mutant], cap: int) -> list[Mutant]:
    """At most `cap` mutants, taken round robin over the operators so each kind is represented
    (deterministic: the same reference always gives the same selection)."""
    if len(mutants) <= cap:
        return list(mutants)
    by_op: dict[str, list[Mutant]] = {}
    for m in mutants:
        by_op.setdefault(m.operator, []).append(m)
    chosen: list[Mutant] = []
    queues = list(by_op.values())
    while len(chosen) < cap:
        for queue in queues:
            if queue and len(chosen) < cap:
                chosen.append(queue.pop(0))
    order = {m.id: i for i, m in enumerate(mutants)}
    return sorted(chosen, key=lambda m: order[m.id])


# --------------------------------------------------------------------------------------------
# grading them


@dataclass
class MutationReport:
    generated: int = 0  # mutants selected and accounted for (killed + equivalent + survivors)
    candidates: int = 0  # before the cap
    killed: int = 0
    equivalent: int = 0
    survivors: list[Mutant] = field(default_factory=list)
    stale_equivalents: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # mutants the grader could not grade
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "generated": self.generated,
            "candidates": self.candidates,
            "killed": self.killed,
            "equivalent": self.equivalent,
            "survivors": [m.to_dict() for m in self.survivors],
            "stale_equivalents": list(self.stale_equivalents),
            "errors": list(self.errors),
            "seconds": round(self.seconds, 2),
        }

    def problems(self) -> list[str]:
        found = [
            f"generated mutant {m.id} survives every test (add a test that fails it, or list "
            f"it in equivalent_mutants.yaml with the reason it is correct):\n{m.diff.rstrip()}"
            for m in self.survivors
        ]
        found += [f"generated mutant {e} could not be graded" for e in self.errors]
        found += [
            f"equivalent_mutants.yaml names {key!r}, which the reference no longer generates"
            for key in self.stale_equivalents
        ]
        return found


# Tests whose steps repeat at most this often in total are "quick": see stages().
QUICK_REPEAT = 10


def _cost(test: TestSpec) -> int:
    return sum(int(step.get("repeat", 1)) for step in test.steps)


def stages(exercise: Exercise) -> list[Exercise]:
    """The exercise split for grading mutants: first all its quick tests together, then each
    other test alone, cheapest first. A mutant stops at the first stage it fails, so most never
    pay for the statistical tests; passing every stage is passing every test (a test's verdict
    does not depend on which tests run with it). One stage (the exercise) when all are quick."""
    quick = [t for t in exercise.tests if _cost(t) <= QUICK_REPEAT]
    slow = sorted((t for t in exercise.tests if _cost(t) > QUICK_REPEAT), key=_cost)
    if not slow:
        return [exercise]
    groups = ([quick] if quick else []) + [[t] for t in slow]
    return [dataclasses.replace(exercise, tests=group) for group in groups]


def run_mutation(exercise: Exercise, grader: Grader, cap: int = DEFAULT_CAP) -> MutationReport:
    """Grade the generated mutants of `exercise`'s reference in the sandbox, `grader.slots` at a
    time. A mutant is killed when it loses any point (or cannot be graded at all). Raises
    ExerciseError when the reference cannot be graded, SandboxUnavailable without a sandbox."""
    from grader import SandboxUnavailable

    started = time.monotonic()
    grader.reference_outputs(exercise)
    everything = all_mutants(exercise.reference)
    declared = dict(exercise.equivalent_mutants)
    report = MutationReport(candidates=len(everything))
    report.stale_equivalents = sorted(set(declared) - {m.id for m in everything})
    chosen = select(everything, cap)
    to_run = [m for m in chosen if m.id not in declared]
    report.equivalent = len(chosen) - len(to_run)

    def grade(target: Exercise, m: Mutant) -> GradeReport:
        try:
            return grader.grade(target, m.source)
        except SandboxUnavailable:  # once more: a job that failed to start is not a verdict
            return grader.grade(target, m.source)

    def survives(m: Mutant) -> bool | str:
        try:
            for stage in parts:
                result = grade(stage, m)
                if result.status != "graded" or result.score < result.max_score:
                    return False
        except SandboxUnavailable:
            raise
        except Exception as exc:  # a grader bug: reported, never taken as a kill
            return f"{type(exc).__name__}: {exc}"
        return True

    parts = stages(exercise)
    with ThreadPoolExecutor(max_workers=max(1, grader.slots)) as pool:
        verdicts = list(pool.map(survives, to_run))
    report.survivors = [m for m, alive in zip(to_run, verdicts, strict=True) if alive is True]
    report.errors = [
        f"{m.id}: {v}" for m, v in zip(to_run, verdicts, strict=True) if isinstance(v, str)
    ]
    report.killed = len(to_run) - len(report.survivors) - len(report.errors)
    report.generated = len(chosen)
    report.seconds = time.monotonic() - started
    return report
