"""Formulas in questions with parameters (Moodle's calculated questions): data, never code.

An instructor writes `answer_formula: "a * b / (1 - p)"`. It is parsed with `ast` and only
numbers, the question's parameter names, arithmetic and a few math functions are allowed; it is
evaluated by walking that tree, so no instructor text is ever passed to `eval`. Sizes are capped
(text length, exponents), so a formula cannot make the server work for long.
"""

from __future__ import annotations

import ast
import math
import operator
import random
import re
from collections.abc import Callable, Mapping
from typing import Any

MAX_FORMULA = 500
MAX_EXPONENT = 100.0
FUNCTIONS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "abs": abs,
    "min": min,
    "max": max,
    "round": round,
    "floor": math.floor,
    "ceil": math.ceil,
}
CONSTANTS = {"pi": math.pi, "e": math.e}
BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.Mod: operator.mod,
}
UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
# `{a}` is a parameter's value in a prompt or a choice; `{=expr}` the value of a formula.
PLACEHOLDER = re.compile(r"\{=([^{}]{1,500})\}|\{([A-Za-z_][A-Za-z0-9_]{0,30})\}")


class FormulaError(ValueError):
    """A formula that may not be used (bad syntax, a name or operation that is not allowed), or
    one without a value for these parameter values (a division by zero)."""


def parse(text: str, names: set[str]) -> ast.Expression:
    """The checked tree of a formula over these parameter names; FormulaError says what's wrong."""
    if not isinstance(text, str) or not text.strip():
        raise FormulaError("a formula must be a non-empty string")
    if len(text) > MAX_FORMULA:
        raise FormulaError(f"a formula may be at most {MAX_FORMULA} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"formula {text!r} is not an expression: {exc.msg}") from exc
    _check_node(tree.body, names, text)
    return tree


def _check_node(node: ast.AST, names: set[str], text: str) -> None:
    """Walk the tree, allowing only what `_value` computes."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise FormulaError(f"formula {text!r}: only numbers are allowed as constants")
    elif isinstance(node, ast.Name):
        if node.id not in names and node.id not in CONSTANTS:
            raise FormulaError(f"formula {text!r} uses {node.id!r}, which is no parameter")
    elif isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        _check_node(node.left, names, text)
        _check_node(node.right, names, text)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
        _check_node(node.operand, names, text)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            allowed = ", ".join(sorted(FUNCTIONS))
            raise FormulaError(f"formula {text!r}: only these functions are allowed: {allowed}")
        if node.keywords or not node.args:
            raise FormulaError(f"formula {text!r}: call functions with plain arguments")
        for argument in node.args:
            _check_node(argument, names, text)
    else:
        raise FormulaError(f"formula {text!r}: {type(node).__name__} is not allowed")


def _value(node: ast.AST, values: Mapping[str, float]) -> float:
    if isinstance(node, ast.Expression):
        return _value(node.body, values)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name):
        return float(values[node.id]) if node.id in values else CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp):
        return UNARY[type(node.op)](_value(node.operand, values))
    if isinstance(node, ast.BinOp):
        left, right = _value(node.left, values), _value(node.right, values)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise FormulaError(f"an exponent above {MAX_EXPONENT:g} is not allowed")
        return BINARY[type(node.op)](left, right)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        return float(FUNCTIONS[node.func.id](*(_value(a, values) for a in node.args)))
    raise FormulaError(f"{type(node).__name__} is not allowed")  # parse() already refused it


def evaluate(text: str, values: Mapping[str, float]) -> float:
    """The formula's value for these parameter values; FormulaError if it has none."""
    tree = parse(text, set(values))
    try:
        result = _value(tree, values)
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise FormulaError(f"formula {text!r} has no value for {dict(values)}: {exc}") from exc
    if not math.isfinite(result):
        raise FormulaError(f"formula {text!r} is not finite for {dict(values)}")
    return result


def draw(parameters: Mapping[str, Mapping[str, Any]], seed: str) -> dict[str, float]:
    """One value per parameter from its range ({min, max, step}), the same for the same seed."""
    rng = random.Random(seed)
    values: dict[str, float] = {}
    for name in sorted(parameters):
        spec = parameters[name]
        low, high, step = float(spec["min"]), float(spec["max"]), float(spec.get("step") or 0)
        if step > 0:
            count = math.floor((high - low) / step + 1e-9) + 1
            value = low + step * rng.randrange(count)
            value = round(value, 10)
        else:
            value = round(rng.uniform(low, high), 4)
        values[name] = int(value) if value == int(value) else value
    return values


def render(text: str, values: Mapping[str, float]) -> str:
    """A prompt or choice with `{a}` replaced by the parameter's value and `{=a*2}` by the
    formula's; anything else in braces (TeX) is left as it is."""

    def replace(match: re.Match[str]) -> str:
        formula, name = match.group(1), match.group(2)
        if name is not None:
            return _number(values[name]) if name in values else match.group(0)
        try:
            return _number(evaluate(formula, values))
        except FormulaError:
            return match.group(0)

    return PLACEHOLDER.sub(replace, text) if values else text


def _number(value: float) -> str:
    return f"{value:.6g}"
