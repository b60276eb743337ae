"""The exercise spec (see SPEC.md): loading, validation, JSON form and fingerprint.

Nothing here executes exercise code: tests are plain data validated structurally.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from grader.protocol import REMEMBERED_REPETITIONS

FORMAT_VERSION = 1
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")
IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MUTANT_EXPECT_RE = re.compile(r"^#\s*expect:\s*(.+)$")
EQUIVALENT_ID_RE = re.compile(r"^[a-z_]+:[0-9]+:[0-9a-f]{8}$")
MUTANT_MISCONCEPTION_RE = re.compile(r"^#\s*misconception:\s*(.+)$")
MAX_MISCONCEPTION = 300

DEFAULT_LIMITS: dict[str, float] = {
    "wall_seconds": 10,
    "cpu_seconds": 5,
    "memory_mib": 512,
    "file_mib": 16,
    "output_kib": 64,
    "result_mib": 32,
}
LIMIT_BOUNDS: dict[str, tuple[float, float]] = {
    "wall_seconds": (0.5, 60),
    "cpu_seconds": (0.5, 30),
    "memory_mib": (64, 4096),
    "file_mib": (1, 256),
    "output_kib": (1, 1024),
    "result_mib": (1, 256),
}

VALUE_TAGS = {"$array", "$rng", "$float", "$tuple", "$ref"}
ACTIONS = ("call", "new", "method", "get", "mutate", "train")
MAX_REPEAT = 10_000
MAX_ELEMENTS = 10_000_000
MAX_DELTA = 1e-9

CHECKS: dict[str, set[str]] = {
    "equal": set(),
    "allclose": {"rtol", "atol"},
    "dtype": set(),
    "shape": set(),
    "type": set(),
    "raises": {"exception", "own"},
    "inputs_unchanged": set(),
    "value": {"value"},
    "same_as": {"step"},
    "differs_from": {"step"},
    "all": {"that"},
    "each_of": {"choices", "of", "rtol", "atol"},
    "mean": {"of", "expected", "range", "delta"},
    "frequency": {"of", "p", "delta"},
    "new_object": set(),
    "independent": {"of", "p", "axis", "delta"},
    "uniform": {"of", "low", "high", "delta"},
    # Lab checks (on the output of a `train` step; see SPEC.md, "Lab exercises").
    "curves": set(),
    "best_val_loss": {"tolerance"},
    "train_val_gap": {"tolerance", "last"},
    "eval_matches_weights": {"tolerance"},
    "stopping_epoch": set(),
    "restored_weights": {"tolerance"},
    "curves_match": {"tolerance"},
}
LAB_CHECKS = {
    "curves",
    "best_val_loss",
    "train_val_gap",
    "eval_matches_weights",
    "stopping_epoch",
    "restored_weights",
    "curves_match",
}
STATISTICAL_CHECKS = {"mean", "frequency", "independent", "uniform"}
# The checks that look at an output's values (against the reference, a literal or a rule on them).
# The others check a property that a stub has as well as an answer: its type, dtype or shape,
# that it is a new object, that the inputs are unchanged, that it equals or differs from another
# step's output. A test must hold at least one of these (`property_only_tests`): a test of a
# property alone pays for code that computes nothing.
VALUE_CHECKS = {"equal", "allclose", "value", "all", "each_of"} | STATISTICAL_CHECKS | LAB_CHECKS
MAX_UNIFORM_CASES = 10_000
COMMON_CHECK_KEYS = {"check", "path", "message"}

BINARY_OPS = {
    "$add",
    "$sub",
    "$mul",
    "$div",
    "$pow",
    "$min2",
    "$max2",
    "$eq",
    "$ne",
    "$lt",
    "$le",
    "$gt",
    "$ge",
    "$and",
    "$or",
}
UNARY_OPS = {"$neg", "$abs", "$not", "$sqrt", "$square", "$isnan", "$isfinite"}
REDUCE_OPS = {"$sum", "$mean", "$min", "$max"}
EXPR_TAGS = BINARY_OPS | UNARY_OPS | REDUCE_OPS | {"$out", "$arg", "$ref", "$isclose", "$where"}

# Builtin exception classes a `raises` check may name; the child reports the MRO by name.
RAISABLE = {
    "Exception",
    "ValueError",
    "TypeError",
    "IndexError",
    "KeyError",
    "LookupError",
    "ArithmeticError",
    "ZeroDivisionError",
    "RuntimeError",
    "NotImplementedError",
    "AttributeError",
    "AssertionError",
    "OverflowError",
    "FloatingPointError",
}


class SpecError(ValueError):
    """An exercise that does not follow SPEC.md; the message says where and why."""


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str  # "function" | "class"
    signature: str


@dataclass(frozen=True)
class TestSpec:
    name: str
    points: float
    hidden: bool
    let: dict[str, Any]
    steps: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "points": self.points, "hidden": self.hidden}
        if self.let:
            d["let"] = self.let
        d["steps"] = self.steps
        return d


@dataclass
class Exercise:
    slug: str
    title: str
    entry: Entry
    tests: list[TestSpec]
    reference: str
    prompt: str = ""
    starter: str = ""
    tags: list[str] = field(default_factory=list)
    limits: dict[str, float] = field(default_factory=dict)
    mutants: dict[str, str] = field(default_factory=dict)
    equivalents: dict[str, str] = field(default_factory=dict)
    # Generated mutants (by id) the instructor declares correct, with the reason why.
    equivalent_mutants: dict[str, str] = field(default_factory=dict)
    # A lab exercise's training set-up (grader/lab.py, defaults filled in); None otherwise.
    lab: dict[str, Any] | None = None

    @property
    def max_score(self) -> float:
        return float(sum(t.points for t in self.tests))

    @property
    def effective_limits(self) -> dict[str, float]:
        return {**DEFAULT_LIMITS, **self.limits}

    @property
    def fingerprint(self) -> str:
        graded = {
            "format": FORMAT_VERSION,
            "entry": self.entry.__dict__,
            "limits": self.effective_limits,
            "tests": [t.to_dict() for t in self.tests],
            "reference": self.reference,
        }
        if self.lab is not None:
            graded["lab"] = self.lab
        return hashlib.sha256(canonical_json(graded).encode()).hexdigest()

    def spec_dict(self) -> dict[str, Any]:
        """The exercise.yaml part."""
        d: dict[str, Any] = {
            "slug": self.slug,
            "title": self.title,
            "tags": list(self.tags),
            "points": self.max_score,
            "entry": dict(self.entry.__dict__),
        }
        if self.limits:
            d["limits"] = dict(self.limits)
        if self.lab is not None:
            d["lab"] = self.lab
        d["tests"] = [t.to_dict() for t in self.tests]
        return d

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            **self.spec_dict(),
            "prompt": self.prompt,
            "starter": self.starter,
            "reference": self.reference,
            "mutants": dict(self.mutants),
            "equivalents": dict(self.equivalents),
            "equivalent_mutants": dict(self.equivalent_mutants),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Exercise:
        if not isinstance(data, dict):
            raise SpecError("exercise: expected a mapping")
        fmt = data.get("format", FORMAT_VERSION)
        if fmt != FORMAT_VERSION:
            raise SpecError(
                f"format: unsupported version {fmt!r} (this grader reads {FORMAT_VERSION})"
            )
        sources: dict[str, Any] = {}
        for key in ("prompt", "starter", "reference"):
            value = data.get(key, "")
            if not isinstance(value, str):
                raise SpecError(f"{key}: expected a string")
            sources[key] = value
        if not sources["reference"].strip():
            raise SpecError("reference: the reference implementation is missing")
        for key in ("mutants", "equivalents"):
            files = data.get(key) or {}
            if not isinstance(files, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in files.items()
            ):
                raise SpecError(f"{key}: expected a mapping of file name to source")
            sources[key] = dict(files)
        declared = _parse_equivalent_mutants(data.get("equivalent_mutants"))
        spec = {
            k: v for k, v in data.items() if k not in {"format", "equivalent_mutants", *sources}
        }
        exercise = _parse_spec(spec, **sources)
        exercise.equivalent_mutants = declared
        return exercise

    def public_dict(self) -> dict[str, Any]:
        """What a student may see: never the reference, mutants or hidden tests' contents."""
        return {
            "slug": self.slug,
            "title": self.title,
            "tags": list(self.tags),
            "points": self.max_score,
            "entry": dict(self.entry.__dict__),
            "prompt": self.prompt,
            "starter": self.starter,
            "tests": [
                {"name": t.name, "points": t.points, "hidden": True} if t.hidden else t.to_dict()
                for t in self.tests
            ],
        }

    def mutant_misconception(self, name: str) -> str | None:
        """The student-facing sentence of a mutant's `# misconception:` header, if it has one."""
        for line in self.mutants[name].splitlines():
            m = MUTANT_MISCONCEPTION_RE.match(line.strip())
            if m:
                return m.group(1).strip()
        return None

    def mutant_expectations(self, name: str) -> list[tuple[str, str]]:
        """(test name, expected substring) pairs declared in a mutant's header comments."""
        pairs = []
        for line in self.mutants[name].splitlines():
            m = MUTANT_EXPECT_RE.match(line.strip())
            if m:
                test, sep, text = m.group(1).rpartition(": ")
                pairs.append((test.strip(), text.strip()) if sep else (m.group(1).strip(), ""))
        return pairs


def property_only_tests(exercise: Exercise) -> list[str]:
    """The tests that award points without looking at any output's value, each with why
    (`holdout bank check` and a posted exercise's check refuse them, see
    question_bank.exercise_check). One exception: a test whose every checked step expects an
    exception (`raises`) tests the refusal itself, which is behaviour a stub does not have unless
    it validates the arguments as asked."""
    found = []
    for test in exercise.tests:
        checked = [step.get("expect", []) for step in test.steps if step.get("expect")]
        names = {c["check"] for checks in checked for c in checks}
        if names & VALUE_CHECKS:
            continue
        if checked and all(any(c["check"] == "raises" for c in checks) for checks in checked):
            continue
        found.append(
            f"test {test.name!r}: none of its checks looks at an output's value (it has "
            f"{sorted(names) or 'no checks'}), so code that computes nothing passes it: add a "
            f"check of the values (one of {sorted(VALUE_CHECKS - LAB_CHECKS)}) to a step: "
            "equal or allclose against the reference for a deterministic output, each_of, all, "
            "frequency or mean for a random one"
        )
    return found


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def load_exercise(path: str | Path) -> Exercise:
    """Read an exercise folder (see SPEC.md)."""
    folder = Path(path)
    spec_file = folder / "exercise.yaml"
    if not spec_file.is_file():
        raise SpecError(f"{folder}: no exercise.yaml")
    try:
        spec = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(f"{spec_file}: invalid YAML: {exc}") from exc
    if not isinstance(spec, dict):
        raise SpecError(f"{spec_file}: expected a mapping")

    def read(name: str) -> str:
        f = folder / name
        return f.read_text(encoding="utf-8") if f.is_file() else ""

    def read_dir(name: str) -> dict[str, str]:
        d = folder / name
        if not d.is_dir():
            return {}
        return {f.name: f.read_text(encoding="utf-8") for f in sorted(d.glob("*.py"))}

    try:
        exercise = _parse_spec(
            spec,
            prompt=read("prompt.md"),
            starter=read("starter.py"),
            reference=read("reference.py"),
            mutants=read_dir("mutants"),
            equivalents=read_dir("equivalents"),
        )
    except SpecError as exc:
        raise SpecError(f"{spec_file}: {exc}") from None
    if not exercise.reference.strip():
        raise SpecError(f"{folder}: reference.py is missing or empty")
    declared = folder / "equivalent_mutants.yaml"
    if declared.is_file():
        try:
            raw = yaml.safe_load(declared.read_text(encoding="utf-8"))
            exercise.equivalent_mutants = _parse_equivalent_mutants(raw)
        except (yaml.YAMLError, SpecError) as exc:
            raise SpecError(f"{declared}: {exc}") from None
    if exercise.slug != folder.name:
        raise SpecError(f"{spec_file}: slug {exercise.slug!r} differs from folder {folder.name!r}")
    return exercise


# ---------------------------------------------------------------------------------------------
# validation


def _parse_spec(
    spec: dict[str, Any],
    *,
    prompt: str,
    starter: str,
    reference: str,
    mutants: dict[str, str],
    equivalents: dict[str, str],
) -> Exercise:
    _no_unknown(
        spec, {"slug", "title", "tags", "points", "entry", "limits", "tests", "lab"}, "exercise"
    )
    slug = spec.get("slug")
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise SpecError(f"slug: {slug!r} must match {SLUG_RE.pattern}")
    title = spec.get("title")
    if not isinstance(title, str) or not title.strip():
        raise SpecError("title: required, a non-empty string")
    tags = spec.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) and t == t.lower() for t in tags):
        raise SpecError("tags: expected a list of lowercase strings")
    entry = _parse_entry(spec.get("entry"))
    limits = _parse_limits(spec.get("limits") or {})
    lab = _parse_lab(spec["lab"], entry) if "lab" in spec else None
    raw_tests = spec.get("tests")
    if not isinstance(raw_tests, list) or not raw_tests:
        raise SpecError("tests: expected a non-empty list")
    tests = [_parse_test(t, i, entry, lab) for i, t in enumerate(raw_tests)]
    names = [t.name for t in tests]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SpecError(f"tests: duplicate test names {dupes}")
    exercise = Exercise(
        slug=slug,
        title=title,
        entry=entry,
        tests=tests,
        reference=reference,
        prompt=prompt,
        starter=starter,
        tags=list(tags),
        limits=limits,
        mutants=mutants,
        equivalents=equivalents,
        lab=lab,
    )
    points = spec.get("points")
    if points is not None and (
        not _is_number(points) or not math.isclose(points, exercise.max_score)
    ):
        raise SpecError(
            f"points: {points!r} differs from the sum of test points {exercise.max_score}"
        )
    for name in mutants:
        expectations = exercise.mutant_expectations(name)
        if not expectations:
            raise SpecError(f"mutants/{name}: no '# expect: <test name>: <text>' header")
        for test_name, _ in expectations:
            if test_name not in names:
                raise SpecError(f"mutants/{name}: expects unknown test {test_name!r}")
        text = exercise.mutant_misconception(name)
        if text is not None and len(text) > MAX_MISCONCEPTION:
            raise SpecError(
                f"mutants/{name}: the misconception is at most {MAX_MISCONCEPTION} characters"
            )
    return exercise


def _parse_equivalent_mutants(raw: Any) -> dict[str, str]:
    """`{mutant id: reason}`: generated mutants that are correct answers, and why."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SpecError("equivalent_mutants: expected a mapping of mutant id to reason")
    for key, reason in raw.items():
        if not isinstance(key, str) or not EQUIVALENT_ID_RE.match(key):
            raise SpecError(f"equivalent_mutants: {key!r} is not a mutant id (operator:line:hash)")
        if not isinstance(reason, str) or not reason.strip():
            raise SpecError(f"equivalent_mutants.{key}: give the reason it is equivalent")
    return dict(raw)


def _no_unknown(d: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _parse_entry(raw: Any) -> Entry:
    if not isinstance(raw, dict):
        raise SpecError("entry: expected a mapping with name, kind, signature")
    _no_unknown(raw, {"name", "kind", "signature"}, "entry")
    name = raw.get("name")
    if not isinstance(name, str) or not IDENT_RE.match(name):
        raise SpecError(f"entry.name: {name!r} is not a Python identifier")
    kind = raw.get("kind", "function")
    if kind not in ("function", "class"):
        raise SpecError(f"entry.kind: {kind!r} must be 'function' or 'class'")
    signature = raw.get("signature", name)
    if not isinstance(signature, str):
        raise SpecError("entry.signature: expected a string")
    return Entry(name=name, kind=kind, signature=signature)


def _parse_limits(raw: Any) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise SpecError("limits: expected a mapping")
    _no_unknown(raw, set(DEFAULT_LIMITS), "limits")
    for key, value in raw.items():
        lo, hi = LIMIT_BOUNDS[key]
        if not _is_number(value) or not lo <= value <= hi:
            raise SpecError(f"limits.{key}: {value!r} must be a number in [{lo}, {hi}]")
    return dict(raw)


def _parse_lab(raw: Any, entry: Entry) -> dict[str, Any]:
    """The `lab:` section, defaults filled in; the entry point must be one of its pieces."""
    from grader.lab import LabConfigError, validate_config

    try:
        lab = validate_config(raw)
    except LabConfigError as exc:
        raise SpecError(str(exc)) from None
    if entry.name not in lab["pieces"].values():
        raise SpecError(f"lab.pieces: the entry point {entry.name!r} must be one of the pieces")
    return lab


def _parse_test(raw: Any, index: int, entry: Entry, lab: dict[str, Any] | None = None) -> TestSpec:
    where = f"tests[{index}]"
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: expected a mapping")
    _no_unknown(raw, {"name", "points", "hidden", "let", "steps"}, where)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 120:
        raise SpecError(f"{where}.name: required, a non-empty string (at most 120 characters)")
    if ": " in name:
        raise SpecError(f"{where}.name: must not contain ': ' (mutant headers split on it)")
    where = f"test {name!r}"
    points = raw.get("points", 1)
    if not _is_number(points) or points <= 0:
        raise SpecError(f"{where}.points: must be a positive number")
    hidden = raw.get("hidden", False)
    if not isinstance(hidden, bool):
        raise SpecError(f"{where}.hidden: must be true or false")
    let = raw.get("let") or {}
    if not isinstance(let, dict):
        raise SpecError(f"{where}.let: expected a mapping of names to values")
    for key, value in let.items():
        if not isinstance(key, str) or not IDENT_RE.match(key):
            raise SpecError(f"{where}.let: {key!r} is not an identifier")
        _check_value(value, f"{where}.let.{key}", refs=set())
    steps = raw.get("steps")
    if not isinstance(steps, list) or not steps:
        raise SpecError(f"{where}.steps: expected a non-empty list")
    has_object = False
    for i, step in enumerate(steps):
        has_object = _check_step(step, i, f"{where}.steps[{i}]", entry, set(let), has_object, lab)
    _check_new_object_sources(steps, where)
    return TestSpec(name=name, points=points, hidden=hidden, let=let, steps=steps)


def _check_new_object_sources(steps: list[dict[str, Any]], where: str) -> None:
    """A `new_object` check looks for earlier steps' outputs in the output, and the harness keeps
    only the first REMEMBERED_REPETITIONS outputs of a `repeat` step: after a step repeated more
    often it could not tell a later repetition's output handed back."""
    longest = -1
    for i, step in enumerate(steps):
        names = {c.get("check") for c in step.get("expect", []) if isinstance(c, dict)}
        if "new_object" in names and longest >= 0:
            raise SpecError(
                f"{where}.steps[{i}]: a new_object check after step {longest + 1}, repeated "
                f"{steps[longest]['repeat']} times: it can only tell outputs of its first "
                f"{REMEMBERED_REPETITIONS} repetitions; repeat it at most "
                f"{REMEMBERED_REPETITIONS} times or check new_object in another test"
            )
        if step.get("repeat", 1) > REMEMBERED_REPETITIONS:
            longest = i


def _check_step(
    step: Any,
    index: int,
    where: str,
    entry: Entry,
    refs: set[str],
    has_object: bool,
    lab: dict[str, Any] | None = None,
) -> bool:
    if not isinstance(step, dict):
        raise SpecError(f"{where}: expected a mapping")
    _no_unknown(step, {*ACTIONS, "expect", "label", "repeat"}, where)
    actions = [a for a in ACTIONS if a in step]
    if len(actions) != 1:
        raise SpecError(f"{where}: needs exactly one of {list(ACTIONS)}, got {actions}")
    action = actions[0]
    body = step[action]
    checks = step.get("expect", [])
    names = {c.get("check") for c in checks if isinstance(c, dict)}
    if action == "train" or names & LAB_CHECKS:
        return _check_train_step(step, where, lab, has_object)
    target = body.get("target") if isinstance(body, dict) and action in ("call", "new") else None
    if target is not None:
        if lab is None or target not in lab["pieces"].values():
            raise SpecError(f"{where}.{action}.target: {target!r} is not one of the lab's pieces")
        body = {k: v for k, v in body.items() if k != "target"}
        if action == "new":
            has_object = True
    elif action == "call" and entry.kind != "function":
        raise SpecError(f"{where}: 'call' needs entry.kind function; use 'new' and 'method'")
    if action == "new" and entry.kind != "class" and target is None:
        raise SpecError(f"{where}: 'new' needs entry.kind class")
    if action in ("method", "get") and not has_object:
        raise SpecError(f"{where}: '{action}' needs an earlier 'new' step")
    if action in ("call", "new", "method"):
        if not isinstance(body, dict):
            raise SpecError(f"{where}.{action}: expected a mapping with args/kwargs")
        allowed = {"args", "kwargs"} | ({"name"} if action == "method" else set())
        _no_unknown(body, allowed, f"{where}.{action}")
        if action == "method" and (
            not isinstance(body.get("name"), str) or not IDENT_RE.match(body["name"])
        ):
            raise SpecError(f"{where}.method.name: required, a method name")
        args = body.get("args", [])
        kwargs = body.get("kwargs", {})
        if not isinstance(args, list):
            raise SpecError(f"{where}.{action}.args: expected a list")
        if not isinstance(kwargs, dict) or not all(
            isinstance(k, str) and IDENT_RE.match(k) for k in kwargs
        ):
            raise SpecError(f"{where}.{action}.kwargs: expected a mapping of identifiers")
        for j, a in enumerate(args):
            _check_value(a, f"{where}.{action}.args[{j}]", refs)
        for k, v in kwargs.items():
            _check_value(v, f"{where}.{action}.kwargs.{k}", refs)
    elif action == "get":
        if not isinstance(body, str) or not IDENT_RE.match(body):
            raise SpecError(f"{where}.get: expected an attribute name")
    else:
        _check_mutate(body, f"{where}.mutate", refs)
    if "label" in step and not isinstance(step["label"], str):
        raise SpecError(f"{where}.label: expected a string")
    repeat = step.get("repeat", 1)
    if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= MAX_REPEAT:
        raise SpecError(f"{where}.repeat: an integer in [1, {MAX_REPEAT}]")
    if repeat > 1 and action not in ("call", "method"):
        raise SpecError(f"{where}.repeat: only for call and method steps")
    expect = step.get("expect", [])
    if not isinstance(expect, list):
        raise SpecError(f"{where}.expect: expected a list of checks")
    for j, check in enumerate(expect):
        _check_check(check, f"{where}.expect[{j}]", index, refs)
    if sum(1 for c in expect if c.get("check") == "raises") > 1:
        raise SpecError(f"{where}.expect: at most one raises check")
    return has_object or action == "new"


def _check_train_step(
    step: dict[str, Any], where: str, lab: dict[str, Any] | None, has_object: bool
) -> bool:
    """A lab step: one training run with the submission's pieces, checked by lab checks only."""
    if lab is None:
        raise SpecError(f"{where}: 'train' and the lab checks need a lab: section")
    if "train" not in step:
        raise SpecError(f"{where}: the lab checks apply to the output of a 'train' step")
    body = step["train"]
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise SpecError(f"{where}.train: expected a mapping (or nothing)")
    _no_unknown(body, {"dropout_seed", "baseline"}, f"{where}.train")
    seed = body.get("dropout_seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise SpecError(f"{where}.train.dropout_seed: a non-negative integer")
    if not isinstance(body.get("baseline", False), bool):
        raise SpecError(f"{where}.train.baseline: true or false")
    if "repeat" in step:
        raise SpecError(f"{where}.repeat: not for train steps")
    if "label" in step and not isinstance(step["label"], str):
        raise SpecError(f"{where}.label: expected a string")
    expect = step.get("expect", [])
    if not isinstance(expect, list):
        raise SpecError(f"{where}.expect: expected a list of checks")
    for j, check in enumerate(expect):
        w = f"{where}.expect[{j}]"
        if not isinstance(check, dict) or check.get("check") not in LAB_CHECKS:
            raise SpecError(f"{w}: a train step takes lab checks only: {sorted(LAB_CHECKS)}")
        _no_unknown(check, COMMON_CHECK_KEYS | CHECKS[check["check"]], f"{w} ({check['check']})")
        if "message" in check and not isinstance(check["message"], str):
            raise SpecError(f"{w}.message: expected a string")
        for key in ("tolerance",):
            if key in check and (not _is_number(check[key]) or check[key] < 0):
                raise SpecError(f"{w}.{key}: a non-negative number")
        if check["check"] in ("best_val_loss", "train_val_gap") and "tolerance" not in check:
            raise SpecError(f"{w}.tolerance: required (how far from the reference run may be)")
        last = check.get("last", 10)
        if not isinstance(last, int) or isinstance(last, bool) or last < 1:
            raise SpecError(f"{w}.last: a positive number of epochs")
        if check["check"] in ("stopping_epoch", "restored_weights") and (
            "early_stopping" not in lab["pieces"]
        ):
            raise SpecError(f"{w}: needs an early_stopping piece in lab.pieces")
    return has_object


def _check_mutate(body: Any, where: str, refs: set[str]) -> None:
    if not isinstance(body, dict):
        raise SpecError(f"{where}: expected {{ref, path, op, value}}")
    _no_unknown(body, {"ref", "path", "op", "value"}, where)
    if body.get("ref") not in refs:
        raise SpecError(f"{where}.ref: {body.get('ref')!r} is not a name in this test's let")
    path = body.get("path", [])
    if not isinstance(path, list) or not all(
        isinstance(p, str | int) and not isinstance(p, bool) for p in path
    ):
        raise SpecError(f"{where}.path: expected a list of keys and indices")
    if body.get("op") not in ("add", "multiply", "fill"):
        raise SpecError(f"{where}.op: one of add, multiply, fill")
    if not _is_number(body.get("value")):
        raise SpecError(f"{where}.value: a finite number")


def _check_check(check: Any, where: str, step_index: int, refs: set[str]) -> None:
    if not isinstance(check, dict) or "check" not in check:
        raise SpecError(f"{where}: expected a mapping with a 'check' key")
    name = check["check"]
    if name not in CHECKS:
        raise SpecError(f"{where}: unknown check {name!r}; known: {sorted(CHECKS)}")
    _no_unknown(check, COMMON_CHECK_KEYS | CHECKS[name], f"{where} ({name})")
    path = check.get("path", [])
    if not isinstance(path, list) or not all(
        isinstance(p, str | int) and not isinstance(p, bool) for p in path
    ):
        raise SpecError(f"{where}.path: expected a list of keys and indices")
    if "message" in check and not isinstance(check["message"], str):
        raise SpecError(f"{where}.message: expected a string")
    for key in ("rtol", "atol"):
        if key in check and (not _is_number(check[key]) or check[key] < 0):
            raise SpecError(f"{where}.{key}: a non-negative number")
    if name == "raises" and check.get("exception", "ValueError") not in RAISABLE:
        raise SpecError(f"{where}.exception: one of {sorted(RAISABLE)}")
    if name == "raises" and not isinstance(check.get("own", False), bool):
        raise SpecError(f"{where}.own: true or false")
    if name in ("independent", "uniform"):
        if "of" not in check:
            raise SpecError(f"{where}.of: required")
        _check_expr(check["of"], f"{where}.of", refs)
        delta = check.get("delta", MAX_DELTA)
        if not _is_number(delta) or not 0 < delta <= MAX_DELTA:
            raise SpecError(f"{where}.delta: the false-fail probability, in (0, {MAX_DELTA}]")
    if name == "independent":
        if "p" not in check:
            raise SpecError(f"{where}.p: required, the probability that an element is true")
        _check_expr(check["p"], f"{where}.p", refs)
        axis = check.get("axis", 0)
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise SpecError(f"{where}.axis: an integer")
    if name == "uniform":
        lo, hi = check.get("low"), check.get("high")
        if not (
            isinstance(lo, int)
            and isinstance(hi, int)
            and not isinstance(lo, bool)
            and not isinstance(hi, bool)
            and 0 < hi - lo <= MAX_UNIFORM_CASES
        ):
            raise SpecError(
                f"{where}: low and high are integers with 0 < high - low <= {MAX_UNIFORM_CASES} "
                "(the values are uniform on low..high-1)"
            )
    if name == "value":
        if "value" not in check:
            raise SpecError(f"{where}.value: required")
        _check_value(check["value"], f"{where}.value", set(), allow_rng=False)
    if name in ("same_as", "differs_from"):
        step = check.get("step")
        if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step < step_index:
            raise SpecError(f"{where}.step: the index of an earlier step (0..{step_index - 1})")
    if name == "all":
        _check_expr(check.get("that"), f"{where}.that", refs)
    if name == "each_of":
        choices = check.get("choices")
        if not isinstance(choices, list) or not choices:
            raise SpecError(f"{where}.choices: a non-empty list of expressions")
        for j, c in enumerate(choices):
            _check_expr(c, f"{where}.choices[{j}]", refs)
        if "of" in check:
            _check_expr(check["of"], f"{where}.of", refs)
    if name in ("mean", "frequency"):
        if "of" not in check:
            raise SpecError(f"{where}.of: required")
        _check_expr(check["of"], f"{where}.of", refs)
        target = "expected" if name == "mean" else "p"
        if target not in check:
            raise SpecError(f"{where}.{target}: required")
        _check_expr(check[target], f"{where}.{target}", refs)
        delta = check.get("delta", MAX_DELTA)
        if not _is_number(delta) or not 0 < delta <= MAX_DELTA:
            raise SpecError(f"{where}.delta: the false-fail probability, in (0, {MAX_DELTA}]")
        if name == "mean":
            rng = check.get("range")
            if (
                not isinstance(rng, list)
                or len(rng) != 2
                or not all(_is_number(v) for v in rng)
                or not rng[0] < rng[1]
            ):
                raise SpecError(f"{where}.range: [lo, hi] with lo < hi, the a-priori bounds")


def _check_expr(expr: Any, where: str, refs: set[str]) -> None:
    if _is_number(expr):
        return
    if not isinstance(expr, dict) or len(expr) != 1:
        raise SpecError(f"{where}: expected a number or a one-key expression like {{$out: []}}")
    ((tag, arg),) = expr.items()
    if tag not in EXPR_TAGS:
        raise SpecError(f"{where}: unknown expression {tag!r}; known: {sorted(EXPR_TAGS)}")
    if tag == "$out":
        if arg is not None and (
            not isinstance(arg, list)
            or not all(isinstance(p, str | int) and not isinstance(p, bool) for p in arg)
        ):
            raise SpecError(f"{where}.$out: a path list (or null)")
    elif tag == "$arg":
        if not isinstance(arg, int | str) or isinstance(arg, bool):
            raise SpecError(f"{where}.$arg: a positional index or keyword name")
    elif tag == "$ref":
        if arg not in refs:
            raise SpecError(f"{where}.$ref: {arg!r} is not a name in this test's let")
    elif tag in BINARY_OPS:
        if not isinstance(arg, list) or len(arg) != 2:
            raise SpecError(f"{where}.{tag}: a list of two expressions")
        for j, a in enumerate(arg):
            _check_expr(a, f"{where}.{tag}[{j}]", refs)
    elif tag in UNARY_OPS:
        _check_expr(arg, f"{where}.{tag}", refs)
    elif tag in REDUCE_OPS:
        if not isinstance(arg, dict) or "of" not in arg or set(arg) - {"of", "axis"}:
            raise SpecError(f"{where}.{tag}: {{of: expr, axis: int (optional)}}")
        _check_expr(arg["of"], f"{where}.{tag}.of", refs)
        if "axis" in arg and (not isinstance(arg["axis"], int) or isinstance(arg["axis"], bool)):
            raise SpecError(f"{where}.{tag}.axis: an integer")
    elif tag == "$isclose":
        if (
            not isinstance(arg, dict)
            or not {"a", "b"} <= set(arg)
            or set(arg)
            - {
                "a",
                "b",
                "rtol",
                "atol",
            }
        ):
            raise SpecError(f"{where}.$isclose: {{a, b, rtol, atol}}")
        _check_expr(arg["a"], f"{where}.$isclose.a", refs)
        _check_expr(arg["b"], f"{where}.$isclose.b", refs)
    elif tag == "$where":
        if not isinstance(arg, list) or len(arg) != 3:
            raise SpecError(f"{where}.$where: [cond, a, b]")
        for j, a in enumerate(arg):
            _check_expr(a, f"{where}.$where[{j}]", refs)


def _check_value(value: Any, where: str, refs: set[str], allow_rng: bool = True) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise SpecError(f"{where}: non-finite float; write {{$float: nan}} (or inf, -inf)")
        return
    if isinstance(value, list):
        for j, v in enumerate(value):
            _check_value(v, f"{where}[{j}]", refs, allow_rng)
        return
    if not isinstance(value, dict):
        raise SpecError(f"{where}: unsupported value of type {type(value).__name__}")
    tags = [k for k in value if isinstance(k, str) and k.startswith("$")]
    if not tags:
        for k, v in value.items():
            if not isinstance(k, str):
                raise SpecError(f"{where}: mapping keys must be strings")
            _check_value(v, f"{where}.{k}", refs, allow_rng)
        return
    if len(value) != 1:
        raise SpecError(f"{where}: a tag mapping has exactly one key, got {sorted(value)}")
    tag, arg = tags[0], value[tags[0]]
    if tag not in VALUE_TAGS:
        raise SpecError(f"{where}: unknown tag {tag!r}; known: {sorted(VALUE_TAGS)}")
    if tag == "$rng":
        if not allow_rng:
            raise SpecError(f"{where}: $rng is not allowed here")
        if not isinstance(arg, int) or isinstance(arg, bool) or arg < 0:
            raise SpecError(f"{where}.$rng: a non-negative integer seed")
    elif tag == "$float":
        if str(arg) not in ("nan", "inf", "-inf"):
            raise SpecError(f"{where}.$float: one of nan, inf, -inf")
    elif tag == "$tuple":
        if not isinstance(arg, list):
            raise SpecError(f"{where}.$tuple: a list")
        _check_value(arg, f"{where}.$tuple", refs, allow_rng)
    elif tag == "$ref":
        if arg not in refs:
            raise SpecError(f"{where}.$ref: {arg!r} is not a name in this test's let")
    else:
        _check_array(arg, f"{where}.$array")


def _check_array(arg: Any, where: str) -> None:
    # Imported lazily so validation-only users need not pay for numpy at import time.
    import numpy as np

    if not isinstance(arg, dict):
        raise SpecError(f"{where}: expected a mapping")
    kinds = [k for k in ("values", "random", "full", "arange") if k in arg]
    if len(kinds) != 1:
        raise SpecError(f"{where}: needs exactly one of values, random, full, arange")
    kind = kinds[0]
    allowed = {
        "values": {"values", "dtype"},
        "random": {"random", "shape", "seed", "dtype", "loc", "scale", "low", "high", "decimals"},
        "full": {"full", "shape", "dtype"},
        "arange": {"arange", "shape", "dtype"},
    }[kind]
    _no_unknown(arg, allowed, where)
    dtype = arg.get("dtype", "int64" if arg.get("random") == "integers" else "float64")
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise SpecError(f"{where}.dtype: {dtype!r} is not a numpy dtype") from exc
    if dt.kind not in "biufc":
        raise SpecError(f"{where}.dtype: {dtype!r} must be bool, integer, float or complex")
    if "shape" in arg:
        shape = arg["shape"]
        if not isinstance(shape, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
        ):
            raise SpecError(f"{where}.shape: a list of non-negative integers")
        if math.prod(shape) > MAX_ELEMENTS:
            raise SpecError(f"{where}.shape: at most {MAX_ELEMENTS} elements")
    elif kind in ("random", "full"):
        raise SpecError(f"{where}.shape: required")
    if kind == "values":
        _check_array_values(arg["values"], where)
    elif kind == "random":
        if arg["random"] not in ("normal", "uniform", "integers"):
            raise SpecError(f"{where}.random: one of normal, uniform, integers")
        seed = arg.get("seed")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise SpecError(f"{where}.seed: required, a non-negative integer")
        for key in ("loc", "scale", "low", "high"):
            if key in arg and not _is_number(arg[key]):
                raise SpecError(f"{where}.{key}: a finite number")
        if "decimals" in arg and (not isinstance(arg["decimals"], int) or arg["decimals"] < 0):
            raise SpecError(f"{where}.decimals: a non-negative integer")
    elif kind == "full":
        if not _is_number(arg["full"]) and arg["full"] not in ("nan", "inf", "-inf"):
            raise SpecError(f"{where}.full: a number or nan, inf, -inf")
    else:
        rng = arg["arange"]
        if not isinstance(rng, list) or not 1 <= len(rng) <= 3 or not all(map(_is_number, rng)):
            raise SpecError(f"{where}.arange: [stop], [start, stop] or [start, stop, step]")


def _check_array_values(values: Any, where: str) -> None:
    if isinstance(values, list):
        for v in values:
            _check_array_values(v, where)
    elif not (_is_number(values) or isinstance(values, bool) or values in ("nan", "inf", "-inf")):
        raise SpecError(f"{where}.values: numbers (or 'nan', 'inf', '-inf'), got {values!r}")
