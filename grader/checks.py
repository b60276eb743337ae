"""The fixed library of checks, applied in the trusted parent to decoded data (see SPEC.md)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.curves import LAB_CHECKS, run_lab_check
from grader.values import Unsupported, materialize

MAX_SHOWN = 300


class CheckError(Exception):
    """A check cannot be evaluated on this output (e.g. a non-numeric value where arrays go)."""


@dataclass
class StepContext:
    """What the parent knows about one step: the student's outcome, the reference's, the inputs."""

    step: dict[str, Any]
    index: int
    got: dict[str, Any]
    ref: dict[str, Any] | None
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    lets: dict[str, Any] = field(default_factory=dict)
    others: list[dict[str, Any]] = field(default_factory=list)
    param_names: list[str] = field(default_factory=list)
    # Builds (args, kwargs) on first use instead: most steps have no check that looks at them.
    inputs: Callable[[], tuple[list[Any], dict[str, Any]]] | None = None
    # The arguments of one repetition of a `repeat` step, as the parent materializes them.
    repetition: Callable[[int], tuple[list[Any], dict[str, Any]]] | None = None
    # The exercise's lab configuration (for the checks on a `train` step's output), if any.
    lab: dict[str, Any] | None = None

    def arguments(self, rep: int | None = None) -> tuple[list[Any], dict[str, Any]]:
        """The step's arguments (of repetition `rep` of a `repeat` step, if given)."""
        if rep and self.repetition is not None:
            return self.repetition(rep)
        if self.inputs is not None:
            self.args, self.kwargs = self.inputs()
            self.inputs = None
        return self.args, self.kwargs


# --------------------------------------------------------------------------------------------
# describing values


def kind(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | float | complex | np.number):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, np.ndarray):
        return "array"
    if isinstance(value, Unsupported):
        return "unsupported"
    return type(value).__name__


# What a number or an array holds, by its dtype's kind. Values of different families never match,
# whatever their values: a complex answer where the reference is real hands the caller complex
# data however small its imaginary part, and a bool mask is not an array of numbers. Integers and
# floats are one family: `equal` compares numbers by value (SPEC.md), dtypes are `dtype`'s business.
# Object, structured, void and datetime arrays never get here: the sandbox sends them as
# Unsupported (values.ALLOWED_DTYPE_KINDS), described by what they are.
FAMILIES = {"b": "bool", "i": "real", "u": "real", "f": "real", "c": "complex"}


def family(value: Any) -> str | None:
    """The family of a number or an array (FAMILIES), None for any other value."""
    if isinstance(value, np.ndarray | np.generic):
        return FAMILIES.get(value.dtype.kind)
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "real"
    if isinstance(value, complex):
        return "complex"
    return None


def short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        text = np.array2string(value, threshold=24, edgeitems=2, precision=6, separator=", ")
        text = re.sub(r"\s*\n\s*", " ", text)
        return _clip(f"{text} ({value.dtype}, shape {value.shape})")
    if isinstance(value, Unsupported):
        return value.description
    if isinstance(value, np.generic):
        return _clip(f"{value!r}")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**MAX_SHOWN:
        return f"an integer of {len(str(abs(value)))} digits"
    if isinstance(value, dict):
        return _clip("{" + ", ".join(f"{k!r}: {short(v)}" for k, v in value.items()) + "}")
    if isinstance(value, list | tuple):
        inner = ", ".join(short(v) for v in value[:6]) + (", ..." if len(value) > 6 else "")
        return _clip(f"[{inner}]" if isinstance(value, list) else f"({inner})")
    if isinstance(value, str) and len(value) > MAX_SHOWN:
        return _clip(repr(value[:MAX_SHOWN]))  # repr of the head only: an output may be long
    return _clip(repr(value))


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def describe_kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"a numpy array ({value.dtype}, shape {value.shape})"
    if isinstance(value, Unsupported):
        return value.description
    return {"None": "None", "bool": "a bool", "number": "a number", "str": "a string"}.get(
        kind(value), f"a {kind(value)}"
    )


def describe_family(value: Any) -> str:
    """A number or an array by its family: "a real number (float)", "a complex array (...)"."""
    if isinstance(value, np.ndarray):
        return f"a {family(value)} array ({value.dtype}, shape {value.shape})"
    name = value.dtype.name if isinstance(value, np.generic) else type(value).__name__
    return f"a {family(value)} number ({name})"


def kinds_differ(expected: Any, got: Any, at: str = "") -> str | None:
    """Why `got` is not the same kind of value as `expected` (`kind`, and for numbers and arrays
    `family`), or None: the `type` check, and the first thing every comparison asks."""
    if isinstance(got, Unsupported):
        return f"returned {got.description}{at}"
    if kind(expected) != kind(got):
        return f"expected {describe_kind(expected)}{at}, got {describe_kind(got)}"
    if family(expected) != family(got):
        return f"expected {describe_family(expected)}{at}, got {describe_family(got)}"
    return None


# --------------------------------------------------------------------------------------------
# comparison


def compare(
    expected: Any,
    got: Any,
    rtol: float = 0.0,
    atol: float = 0.0,
    exact: bool = True,
    where: str = "",
) -> str | None:
    """None when equal (within tolerance), else what differs, in words. Any decoded value may be
    `got` (huge integers, odd nesting): nothing here raises on it."""
    at = f" at {where}" if where else ""
    differ = kinds_differ(expected, got, at)
    if differ:
        return differ
    ke = kind(expected)
    if ke == "array":
        return _compare_arrays(expected, got, rtol, atol, exact, at)
    if ke == "number":
        if _numbers_match(expected, got, rtol, atol, exact):
            return None
        return f"expected {short(expected)}{at}, got {short(got)}"
    if ke in ("bool", "str", "None"):
        return None if expected == got else f"expected {short(expected)}{at}, got {short(got)}"
    if ke in ("list", "tuple"):
        if len(expected) != len(got):
            return f"expected a {ke} of length {len(expected)}{at}, got length {len(got)}"
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            diff = compare(e, g, rtol, atol, exact, f"{where}[{i}]")
            if diff:
                return diff
        return None
    if ke == "dict":
        if set(expected) != set(got):
            missing = sorted(set(expected) - set(got))
            extra = sorted(set(got) - set(expected))
            return f"dict keys differ{at}: missing {missing}, unexpected {extra}"
        for k in expected:
            diff = compare(expected[k], got[k], rtol, atol, exact, f"{where}[{k!r}]")
            if diff:
                return diff
        return None
    return f"cannot compare {describe_kind(got)}{at}"


def _numbers_match(e: Any, g: Any, rtol: float, atol: float, exact: bool) -> bool:
    # Integers of any size exactly (Python compares them without a cast); within a tolerance only
    # where floats hold them.
    integers = isinstance(e, int | np.integer) and isinstance(g, int | np.integer)
    if integers and (e == g or exact or max(abs(int(e)), abs(int(g))) >= 2**1023):
        return bool(e == g)
    return bool(_close(_number_array(e), _number_array(g), rtol, atol, exact).all())


def _number_array(value: Any) -> np.ndarray:
    """A number as a 0-d array of a numeric dtype: a Python integer beyond 64 bits becomes a float
    (an infinite one past float's range), never an object array, which numpy's arithmetic and
    casts would hand back to Python (OverflowError)."""
    if type(value) is int and not -(2**63) <= value < 2**64:
        try:
            return np.asarray(float(value))
        except OverflowError:
            return np.asarray(math.inf if value > 0 else -math.inf)
    return np.asarray(value)


def _close(e: np.ndarray, g: np.ndarray, rtol: float, atol: float, exact: bool) -> np.ndarray:
    """Elementwise: equal, NaN where both are NaN, or (not `exact`) within the tolerance. Computed
    in float64, complex128 only when a side is complex: no copy wider than the data needs (an
    output at the size cap costs the parent its own size, not twice or four times it)."""
    with np.errstate(all="ignore"):
        ok = np.asarray(e == g)
        if e.dtype.kind == "b" or g.dtype.kind == "b":
            return ok
        if e.dtype.kind in "fc" and g.dtype.kind in "fc":
            ok = ok | (np.isnan(e) & np.isnan(g))
        if exact:
            return ok
        # An infinite expected value is matched only by itself (its relative tolerance is infinite).
        return ok | (np.isfinite(e) & (_abs_error(e, g) <= atol + rtol * np.abs(e)))


def _abs_error(e: np.ndarray, g: np.ndarray) -> np.ndarray:
    wide = np.complex128 if "c" in (e.dtype.kind, g.dtype.kind) else np.float64
    with np.errstate(all="ignore"):
        err = np.asarray(np.subtract(g, e, dtype=wide))
        # In place for real arrays (a 0-d result is a scalar, and a complex one has a real abs).
        return np.abs(err, out=err) if wide is np.float64 and err.ndim else np.abs(err)


def _compare_arrays(
    e: np.ndarray, g: np.ndarray, rtol: float, atol: float, exact: bool, at: str
) -> str | None:
    if e.shape != g.shape:
        return f"expected shape {e.shape}{at}, got shape {g.shape}"
    ok = _close(e, g, rtol, atol, exact)
    if ok.all():
        return None
    bad = ~ok.reshape(ok.shape or (1,))
    first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape))
    first = first if e.ndim else ()
    idx = first if len(first) != 1 else first[0]
    text = (
        f"{int(np.count_nonzero(bad))} of {e.size} elements differ{at} (first at index {idx}: "
        f"expected {e[first].item()!r}, got {g[first].item()!r})"
    )
    if e.dtype.kind in "iufc" and g.dtype.kind in "iufc":
        err = _abs_error(e, g)
        finite = err[np.isfinite(err)]
        if finite.size:
            text += f"; max abs error {float(finite.max()):.4g}"
    if e.size <= 24:
        text += f"\n  expected: {short(e)}\n  got:      {short(g)}"
    return text


# --------------------------------------------------------------------------------------------
# expressions


def _pick(value: Any, path: list[Any]) -> Any:
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError) as exc:
            raise CheckError(f"the output has no element {key!r}") from exc
    return value


def _numeric(value: Any) -> np.ndarray:
    if isinstance(value, Unsupported):
        raise CheckError(f"the output is {value.description}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise CheckError("the output is not a numeric array") from exc
    if arr.dtype.kind not in "biufc":
        raise CheckError(f"the output is not numeric ({describe_kind(value)})")
    return arr


def output_of(
    ctx: StepContext, path: list[Any] | None, outcome: dict[str, Any] | None = None
) -> Any:
    out = (ctx.got if outcome is None else outcome).get("out")
    if ctx.step.get("repeat", 1) > 1:
        return [_pick(o, path or []) for o in out] if isinstance(out, list) else out
    return _pick(out, path or [])


def _out_array(ctx: StepContext, path: list[Any] | None, outcome: dict[str, Any]) -> np.ndarray:
    value = output_of(ctx, path, outcome)
    if ctx.step.get("repeat", 1) > 1:
        if not isinstance(value, list):
            raise CheckError("expected one output per repetition")
        parts = [_numeric(v) for v in value]
        if len({p.shape for p in parts}) > 1:
            raise CheckError("repeated calls returned outputs of different shapes")
        return np.stack(parts)
    return _numeric(value)


def _output_array(ctx: StepContext, path: list[Any] | None) -> np.ndarray:
    """`$out` as an array, of the shape the reference's output has there: an expression is then
    computed on arrays of the same shapes as for the reference (which passed these checks), so a
    submission cannot make the parent broadcast its output into something huge."""
    got = _out_array(ctx, path, ctx.got)
    if ctx.ref is not None and "out" in ctx.ref and ctx.ref is not ctx.got:
        try:
            expected = _out_array(ctx, path, ctx.ref).shape
        except CheckError:
            return got  # the reference has no numeric output here: nothing to compare with
        if got.shape != expected:
            raise CheckError(f"expected an output of shape {expected}, got shape {got.shape}")
    return got


def evaluate(expr: Any, ctx: StepContext) -> np.ndarray:
    if not isinstance(expr, dict):
        return np.asarray(expr, dtype=np.float64)
    ((tag, arg),) = expr.items()
    if tag == "$out":
        return _output_array(ctx, arg)
    if tag == "$arg":
        args, kwargs = ctx.arguments()
        if isinstance(arg, int):
            return _numeric(args[arg])
        return _numeric(kwargs[arg])
    if tag == "$ref":
        return _numeric(ctx.lets[arg])
    with np.errstate(all="ignore"):
        if tag in _BINARY:
            a, b = (evaluate(x, ctx) for x in arg)
            try:
                return np.asarray(_BINARY[tag](a, b))
            except ValueError as exc:
                raise CheckError(f"shapes do not match: {a.shape} and {b.shape}") from exc
        if tag in _UNARY:
            return np.asarray(_UNARY[tag](evaluate(arg, ctx)))
        if tag in _REDUCE:
            of = evaluate(arg["of"], ctx)
            try:
                return np.asarray(_REDUCE[tag](of, axis=arg.get("axis")))
            except ValueError as exc:  # AxisError: an output with fewer dimensions than expected
                raise CheckError(f"cannot reduce an array of shape {of.shape}: {exc}") from exc
        if tag == "$isclose":
            return np.isclose(
                evaluate(arg["a"], ctx),
                evaluate(arg["b"], ctx),
                rtol=arg.get("rtol", 1e-6),
                atol=arg.get("atol", 0.0),
            )
        if tag == "$where":
            c, a, b = (evaluate(x, ctx) for x in arg)
            return np.where(c, a, b)
    raise CheckError(f"unknown expression {tag}")


_BINARY = {
    "$add": np.add,
    "$sub": np.subtract,
    "$mul": np.multiply,
    "$div": np.true_divide,
    "$pow": np.power,
    "$min2": np.minimum,
    "$max2": np.maximum,
    "$eq": np.equal,
    "$ne": np.not_equal,
    "$lt": np.less,
    "$le": np.less_equal,
    "$gt": np.greater,
    "$ge": np.greater_equal,
    "$and": np.logical_and,
    "$or": np.logical_or,
}
_UNARY = {
    "$neg": np.negative,
    "$abs": np.abs,
    "$not": np.logical_not,
    "$sqrt": np.sqrt,
    "$square": np.square,
    "$isnan": np.isnan,
    "$isfinite": np.isfinite,
}
_REDUCE: dict[str, Callable[..., Any]] = {
    "$sum": np.sum,
    "$mean": np.mean,
    "$min": np.min,
    "$max": np.max,
}


def _scalar(value: np.ndarray, what: str) -> float:
    if value.size != 1:
        raise CheckError(f"{what} must be a single number")
    return float(value.reshape(()).real)


# --------------------------------------------------------------------------------------------
# the checks


def run_check(check: dict[str, Any], ctx: StepContext) -> str | None:
    """None when the check passes, else a message a student can act on."""
    name = check["check"]
    path = check.get("path")
    try:
        extra = EXTRA_CHECKS.get(name)
        if extra is not None:
            return extra(check, ctx)
        if name == "raises":
            return _raises(check, ctx)
        if name in ("equal", "allclose", "dtype", "shape", "type"):
            if ctx.ref is None or "out" not in ctx.ref:
                return "the reference produced no output here (exercise error)"
            if ctx.step.get("repeat", 1) > 1:
                return _against_reference_repeated(name, check, ctx.ref["out"], ctx, path or [])
            expected = _pick(ctx.ref["out"], path or [])
            got = output_of(ctx, path)
            return _against_reference(name, check, expected, got)
        if name == "value":
            return compare(materialize(check["value"], {}), output_of(ctx, path))
        if name in ("same_as", "differs_from"):
            other = ctx.others[check["step"]] if check["step"] < len(ctx.others) else {}
            if "out" not in other:
                return f"step {check['step'] + 1} produced no output to compare with"
            diff = compare(_pick(other["out"], path or []), output_of(ctx, path))
            if name == "same_as":
                return (
                    None
                    if diff is None
                    else f"not reproducible: differs from step "
                    f"{check['step'] + 1} with the same seed: {diff}"
                )
            return None if diff else f"identical to the output of step {check['step'] + 1}"
        if name == "inputs_unchanged":
            return _inputs_unchanged(ctx)
        if name == "all":
            return _all(evaluate(check["that"], ctx))
        if name == "each_of":
            return _each_of(check, ctx)
        if name in ("mean", "frequency"):
            return _mean(check, ctx)
    except CheckError as exc:
        return str(exc)
    return f"unknown check {name}"


def _against_reference(name: str, check: dict[str, Any], expected: Any, got: Any) -> str | None:
    if name == "equal":
        return compare(expected, got)
    if name == "allclose":
        return compare(expected, got, check.get("rtol", 1e-7), check.get("atol", 0.0), exact=False)
    if name == "type":
        return kinds_differ(expected, got)
    if not isinstance(got, np.ndarray):
        return f"expected a numpy array, got {describe_kind(got)}"
    if not isinstance(expected, np.ndarray):
        return "the reference output is not an array (exercise error)"
    if name == "dtype":
        return (
            None
            if got.dtype == expected.dtype
            else (f"expected dtype {expected.dtype}, got dtype {got.dtype}")
        )
    return (
        None
        if got.shape == expected.shape
        else (f"expected shape {expected.shape}, got shape {got.shape}")
    )


def _against_reference_repeated(
    name: str, check: dict[str, Any], expected: Any, ctx: StepContext, path: list[Any]
) -> str | None:
    """A reference check on a `repeat` step: `path` and the check apply to each repetition, as
    in `$out`; the first repetition that fails is reported."""
    got = ctx.got.get("out")
    if not isinstance(expected, list):
        return "the reference produced no list of repetitions here (exercise error)"
    if not isinstance(got, list) or len(got) != len(expected):
        what = f"{len(got)}" if isinstance(got, list) else describe_kind(got)
        return f"expected {len(expected)} outputs, one per repetition, got {what}"
    for i, (e, g) in enumerate(zip(expected, got, strict=True)):
        problem = _against_reference(name, check, _pick(e, path), _pick(g, path))
        if problem:
            return f"repetition {i + 1} of {len(expected)}: {problem}"
    return None


def _raises(check: dict[str, Any], ctx: StepContext) -> str | None:
    wanted = check.get("exception", "ValueError")
    exc = ctx.got.get("exc")
    if exc is None:
        if "signature" in ctx.got:
            return f"wrong signature: {ctx.got['signature']}"
        return f"expected {wanted} to be raised, but it returned {short(ctx.got.get('out'))}"
    if wanted not in exc.get("builtin_bases", []):
        text = f"expected {wanted}, but it raised {exc.get('type')}: {exc.get('message')}"
        if exc.get("type") == wanted:  # the harness tells builtin classes by identity
            text += (
                f" (a class of its own named {wanted}, not the builtin {wanted}: a caller's "
                f"`except {wanted}:` does not catch it)"
            )
        return text
    if check.get("own") and exc.get("raised_by") != "submission":
        origin = exc.get("raised_by", "unknown")
        where = (
            "by a numpy (or builtin) function your code called"
            if origin in ("builtin", "numpy")
            else f"inside {origin}"
            if origin not in ("unknown", "library")
            else "outside your code"
        )
        return (
            f"{exc.get('type')} was raised {where}, not by a check of your own "
            f"({exc.get('type')}: {_clip(str(exc.get('message')))}): validate the argument "
            f"yourself and raise {wanted} with a message"
        )
    return None


def _inputs_unchanged(ctx: StepContext) -> str | None:
    after = ctx.got.get("after")
    if not isinstance(after, list) or len(after) != 2:
        return "could not inspect the arguments after the call"
    problems: list[str] = []
    # The harness sends the arguments of the first repetition that changed them (or the last).
    rep = ctx.got.get("after_rep")
    args, kwargs = ctx.arguments(rep)
    for path in ctx.got.get("replaced", []):
        where, inner = path[1], "".join(f"[{k!r}]" for k in path[2:])
        known = type(where) is int and where < len(ctx.param_names)
        name = ctx.param_names[where] if known else where
        problems.append(
            f"argument {name!r}{inner} holds other objects after the call: the caller's list or "
            "dict itself was changed (build a new one)"
        )
    for i, original in enumerate(args):
        label = f"argument {ctx.param_names[i]!r}" if i < len(ctx.param_names) else f"argument {i}"
        later = after[0][i] if isinstance(after[0], list) and i < len(after[0]) else None
        _diff_inputs(original, later, label, problems)
    for key, original in kwargs.items():
        later = after[1].get(key) if isinstance(after[1], dict) else None
        _diff_inputs(original, later, f"argument {key!r}", problems)
    if not problems:
        return None
    repeated = ctx.step.get("repeat", 1)
    where = f"repetition {rep + 1} of {repeated} " if type(rep) is int and repeated > 1 else ""
    return f"{where}modified its input: " + "; ".join(problems)


def _diff_inputs(original: Any, later: Any, label: str, problems: list[str]) -> None:
    if isinstance(original, np.ndarray):
        if not isinstance(later, np.ndarray) or later.dtype != original.dtype:
            problems.append(f"{label} was replaced or changed type")
            return
        diff = compare(original, later)
        if diff:
            problems.append(f"{label} changed in place: {diff}")
    elif isinstance(original, dict):
        for k, v in original.items():
            _diff_inputs(
                v, later.get(k) if isinstance(later, dict) else None, f"{label}[{k!r}]", problems
            )
    elif isinstance(original, list | tuple):
        for i, v in enumerate(original):
            inner = later[i] if isinstance(later, list | tuple) and i < len(later) else None
            _diff_inputs(v, inner, f"{label}[{i}]", problems)


def _all(values: np.ndarray) -> str | None:
    flags = values.astype(bool)
    if flags.all():
        return None
    bad = np.argwhere(~flags.reshape(flags.shape or (1,)))
    first = tuple(int(i) for i in bad[0])
    where = first if len(first) != 1 else first[0]
    return f"{len(bad)} of {flags.size} elements break the rule (first at index {where})"


def _each_of(check: dict[str, Any], ctx: StepContext) -> str | None:
    of = evaluate(check.get("of", {"$out": []}), ctx)
    of = of.reshape(of.shape or (1,))  # a 0-d output (a scalar) is one element
    choices = [evaluate(c, ctx) for c in check["choices"]]
    rtol, atol = check.get("rtol", 1e-6), check.get("atol", 0.0)
    try:
        hits = [np.isclose(of, np.broadcast_to(c, of.shape), rtol=rtol, atol=atol) for c in choices]
    except ValueError as exc:
        raise CheckError(f"output shape {of.shape} does not fit the expected values") from exc
    ok = np.logical_or.reduce(hits)
    if ok.all():
        return None
    bad = np.argwhere(~ok.reshape(ok.shape or (1,)))
    first = tuple(int(i) for i in bad[0])
    allowed = ", ".join(f"{float(np.broadcast_to(c, of.shape)[first].real):.6g}" for c in choices)
    return (
        f"{len(bad)} of {of.size} elements are not among the allowed values (first at index "
        f"{first if len(first) != 1 else first[0]}: got {of[first].item()!r}, "
        f"allowed there: {allowed})"
    )


def _mean(check: dict[str, Any], ctx: StepContext) -> str | None:
    values = evaluate(check["of"], ctx).ravel()
    if values.dtype.kind == "c":
        raise CheckError("complex values")
    values = values.astype(np.float64)
    n = values.size
    if n == 0:
        return "no values to average (empty output)"
    if check["check"] == "frequency":
        lo, hi = 0.0, 1.0
        target = _scalar(evaluate(check["p"], ctx), "p")
    else:
        lo, hi = check["range"]
        target = _scalar(evaluate(check["expected"], ctx), "expected")
    outside = ~((values >= lo) & (values <= hi))
    if outside.any():
        i = int(np.argmax(outside))
        return (
            f"{int(outside.sum())} of {n} values are outside [{lo:g}, {hi:g}] "
            f"(first at flat index {i}: {values[i]!r})"
        )
    delta = check.get("delta", 1e-9)
    bound = (hi - lo) * math.sqrt(math.log(2 / delta) / (2 * n))
    mean = float(values.mean())
    if abs(mean - target) <= bound:
        return None
    what = "fraction" if check["check"] == "frequency" else "mean"
    return (
        f"the {what} over {n} values is {mean:.4f}, expected {target:.4f} ± {bound:.4f} "
        f"(a correct answer fails this with probability below {delta:g})"
    )


# --------------------------------------------------------------------------------------------
# checks added later (SPEC.md, "Checks for promises"): a registry consulted before the ones above


def _new_object(check: dict[str, Any], ctx: StepContext) -> str | None:
    """The output (at `path`) is a new object: the child recorded every ndarray, list or dict of
    the output that is an input object or shares memory with one (arguments, the test's `let`
    values, earlier steps' outputs)."""
    if "out" not in ctx.got:
        return "the step produced no output"
    path = list(check.get("path") or [])
    shared = ctx.got.get("shared")
    if not isinstance(shared, list):
        return "could not inspect the output's memory"
    for entry in shared:
        at = entry.get("at") or []
        if at[: len(path)] != path:
            continue
        where = "the output" + "".join(f"[{k!r}]" for k in at)
        if entry.get("rep") is not None:
            where = f"repetition {entry['rep'] + 1}: {where}"
        what = _describe_source(entry.get("with") or [], ctx)
        if entry.get("how") == "same":
            return f"{where} is {what} itself, not a new object"
        return f"{where} shares memory with {what} (a view of it, not a new array)"
    return None


def _describe_source(label: list[Any], ctx: StepContext) -> str:
    kind_, key, sub = [*label, None, None, []][:3]
    inner = "".join(f"[{k!r}]" for k in (sub or []))
    if kind_ == "arg":
        if isinstance(key, int) and key < len(ctx.param_names):
            key = ctx.param_names[key]
        return f"argument {key!r}{inner}" if isinstance(key, str) else f"argument {key}{inner}"
    if kind_ == "let":
        return f"the input {key}{inner}"
    if kind_ == "out":
        return f"the output of step {int(key) + 1}{inner}" if isinstance(key, int) else "an output"
    return "an input"


@dataclass(frozen=True)
class Statistic:
    """What a statistical check measured: `n` independent values, a deviation `bound` a correct
    answer exceeds with probability at most `delta`, and its `power`: a deviation of at least
    `power` is detected with probability at least 1 - POWER_MISS."""

    check: str
    what: str
    n: int
    delta: float
    bound: float
    power: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "what": self.what,
            "n": self.n,
            "false_fail": self.delta,
            "bound": round(self.bound, 6),
            "power": round(self.power, 6),
        }


# The miss probability behind every stated power: a deviation of `power` is caught w.p. >= 0.999.
POWER_MISS = 1e-3


def hoeffding(n: int, width: float, delta: float, cases: int = 1) -> tuple[float, float]:
    """(bound, power) of a two-sided Hoeffding test on the mean of n independent values in a range
    of `width`, over `cases` means at once (a union bound, so the false-fail stays <= delta). A true
    mean off by `power` leaves the bound with probability >= 1 - POWER_MISS (one-sided Hoeffding
    beyond the bound)."""
    bound = width * math.sqrt(math.log(2 * cases / delta) / (2 * n))
    return bound, bound + width * math.sqrt(math.log(1 / POWER_MISS) / (2 * n))


def _bool_values(check: dict[str, Any], ctx: StepContext) -> np.ndarray:
    values = evaluate(check["of"], ctx)
    if values.dtype.kind not in "biu" or (
        values.dtype.kind != "b" and ((values < 0) | (values > 1)).any()
    ):
        raise CheckError("the values to test are not true/false")
    return values.astype(bool)


def _independent_stat(check: dict[str, Any], ctx: StepContext) -> tuple[Statistic, float, float]:
    """Disjoint pairs of slices along `axis` (0 and 1, 2 and 3, ...) agree elementwise with
    probability p^2 + (1-p)^2 when every element is true with probability p independently; one
    mask shared along the axis makes them agree always."""
    values = _bool_values(check, ctx)
    axis = int(check.get("axis", 0))
    if values.ndim == 0 or not -values.ndim <= axis < values.ndim:
        raise CheckError(f"the output has no axis {axis} to pair slices along")
    values = np.moveaxis(values, axis, 0)
    pairs = values.shape[0] // 2
    if pairs == 0 or values[0].size == 0:
        raise CheckError(f"need at least two slices along axis {axis}")
    agree = values[0 : 2 * pairs : 2] == values[1 : 2 * pairs : 2]
    p = _scalar(evaluate(check["p"], ctx), "p")
    expected = p * p + (1 - p) * (1 - p)
    delta = check.get("delta", 1e-9)
    bound, power = hoeffding(agree.size, 1.0, delta)
    stat = Statistic(
        "independent",
        f"agreement of paired slices along axis {axis}",
        int(agree.size),
        delta,
        bound,
        power,
    )
    return stat, float(agree.mean()), expected


def _independent(check: dict[str, Any], ctx: StepContext) -> str | None:
    stat, got, expected = _independent_stat(check, ctx)
    if abs(got - expected) <= stat.bound:
        return None
    axis = int(check.get("axis", 0))
    same = "the same" if got > expected else "opposite"
    return (
        f"the random choices are not independent along axis {axis}: paired slices agree in "
        f"{got:.4f} of {stat.n} places, expected {expected:.4f} ± {stat.bound:.4f} for independent "
        f"draws (they look {same} more often than chance; a correct answer fails this with "
        f"probability below {stat.delta:g})"
    )


def _uniform_stat(
    check: dict[str, Any], ctx: StepContext
) -> tuple[Statistic, np.ndarray, np.ndarray]:
    values = evaluate(check["of"], ctx).ravel()
    lo, hi = int(check["low"]), int(check["high"])
    if values.size == 0:
        raise CheckError("no values to test (empty output)")
    if values.dtype.kind == "c" or not np.all(values == np.round(values.real)):
        raise CheckError("the values are not integers")
    outside = (values < lo) | (values >= hi)
    if outside.any():
        i = int(np.argmax(outside))
        raise CheckError(
            f"{int(outside.sum())} of {values.size} values are outside {lo}..{hi - 1} "
            f"(first at flat index {i}: {values[i].item()!r})"
        )
    k = hi - lo
    counts = np.bincount((values.real.astype(np.int64) - lo), minlength=k)
    freq = counts / values.size
    delta = check.get("delta", 1e-9)
    bound, power = hoeffding(values.size, 1.0, delta, cases=k)
    stat = Statistic(
        "uniform", f"frequency of each of {lo}..{hi - 1}", int(values.size), delta, bound, power
    )
    return stat, freq, np.full(k, 1.0 / k)


def _uniform(check: dict[str, Any], ctx: StepContext) -> str | None:
    stat, freq, expected = _uniform_stat(check, ctx)
    worst = int(np.argmax(np.abs(freq - expected)))
    if abs(freq[worst] - expected[worst]) <= stat.bound:
        return None
    lo = int(check["low"])
    never = [lo + int(i) for i in np.flatnonzero(freq == 0)]
    extra = f"; never drawn: {never[:10]}" if never else ""
    return (
        f"not uniform over {lo}..{int(check['high']) - 1}: {lo + worst} appears in "
        f"{freq[worst]:.4f} of {stat.n} draws, expected {expected[worst]:.4f} ± {stat.bound:.4f}"
        f"{extra} (a correct answer fails this with probability below {stat.delta:g})"
    )


def _mean_stat(check: dict[str, Any], ctx: StepContext) -> Statistic:
    values = evaluate(check["of"], ctx)
    lo, hi = (0.0, 1.0) if check["check"] == "frequency" else check["range"]
    delta = check.get("delta", 1e-9)
    n = max(1, int(values.size))
    bound, power = hoeffding(n, hi - lo, delta)
    what = (
        "fraction of true values" if check["check"] == "frequency" else f"mean on [{lo:g}, {hi:g}]"
    )
    return Statistic(check["check"], what, n, delta, bound, power)


# How each statistical check measures its sample (`statistic`, printed by `holdout bank check`).
_STATISTICS: dict[str, Callable[[dict[str, Any], StepContext], Statistic]] = {
    "mean": _mean_stat,
    "frequency": _mean_stat,
    "independent": lambda check, ctx: _independent_stat(check, ctx)[0],
    "uniform": lambda check, ctx: _uniform_stat(check, ctx)[0],
}
STATISTICAL_CHECKS = frozenset(_STATISTICS)


def statistic(check: dict[str, Any], ctx: StepContext) -> Statistic | None:
    """The sample size, false-fail bound and power of a statistical check on this step's output
    (the reference's, for the bank check); None for other checks or when it cannot be evaluated."""
    measure = _STATISTICS.get(check["check"])
    if measure is None:
        return None
    try:
        return measure(check, ctx)
    except (CheckError, KeyError, IndexError, TypeError, ValueError):
        return None


def _lab_check(check: dict[str, Any], ctx: StepContext) -> str | None:
    """A check on a training run (grader/curves.py): the curves against the reference run."""
    if ctx.lab is None:
        return "a lab check outside a lab exercise (exercise error)"
    ref = ctx.ref.get("out") if ctx.ref is not None else None
    return run_lab_check(check, ctx.got.get("out"), ref, ctx.lab)


EXTRA_CHECKS: dict[str, Callable[[dict[str, Any], StepContext], str | None]] = {
    "new_object": _new_object,
    "independent": _independent,
    "uniform": _uniform,
    "curves": _lab_check,
    **{name: _lab_check for name in LAB_CHECKS},
}
