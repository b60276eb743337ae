"""grader/seal.py on its own (no sandbox): a sealed copy keeps doing what the module did when it
was sealed, whatever is rebound later in the real modules, the builtins or the libraries."""

from __future__ import annotations

import builtins
import json
import sys
import types
from collections.abc import Iterator

import pytest

from grader.seal import SealError, seal

HARNESS = """
import json
import math

import numpy as np

from {helper} import double

LIMIT = {{"max": 3}}


def run(x):
    return json.dumps([double(x), isinstance(x, int), bool(np.isfinite(x)), math.floor(2.5), LIMIT])
"""
HELPER = """
def double(x):
    return 2 * x
"""


def module(name: str, source: str) -> types.ModuleType:
    mod = types.ModuleType(name)
    exec(compile(source, name, "exec"), mod.__dict__)
    sys.modules[name] = mod
    return mod


@pytest.fixture
def harness() -> Iterator[tuple[types.ModuleType, types.ModuleType]]:
    helper = module("sealtest_helper", HELPER)
    main = module("sealtest_main", HARNESS.format(helper="sealtest_helper"))
    yield main, helper
    sys.modules.pop("sealtest_main", None)
    sys.modules.pop("sealtest_helper", None)


def test_a_sealed_copy_ignores_what_is_rebound_afterwards(harness) -> None:
    import numpy as np

    main, helper = harness
    run = seal([main, helper])["sealtest_main"]["run"]
    expected = run(4)
    assert json.loads(expected) == [8, True, True, 2, {"max": 3}]
    # Everything a submission could rebind from its own code: the real modules' names, a
    # library's function, the builtins, a mutable constant (undone before pytest runs again).
    saved = (json.dumps, builtins.isinstance, np.isfinite)
    main.LIMIT["max"] = 99
    helper.double = lambda x: 0
    json.dumps = lambda *a, **k: "forged"
    np.isfinite = lambda x: False
    builtins.isinstance = lambda *a: False
    try:
        sealed, real = run(4), main.run(4)
    finally:
        json.dumps, builtins.isinstance, np.isfinite = saved
    assert sealed == expected
    assert real == "forged"  # the real module does change


def test_sealed_functions_refer_only_to_sealed_namespaces(harness) -> None:
    main, helper = harness
    spaces = seal([main, helper])
    run = spaces["sealtest_main"]["run"]
    assert run.__globals__ is spaces["sealtest_main"]
    assert spaces["sealtest_main"]["double"].__globals__ is spaces["sealtest_helper"]
    assert run.__globals__["__builtins__"] is not builtins.__dict__
    assert main.run.__globals__ is main.__dict__


def test_a_module_level_closure_cannot_be_sealed() -> None:
    def make():
        value = 1

        def inner():
            return value

        return inner

    mod = types.ModuleType("sealtest_closure")
    inner = make()
    inner.__module__ = mod.__name__
    mod.__dict__["inner"] = types.FunctionType(
        inner.__code__, mod.__dict__, "inner", None, inner.__closure__
    )
    with pytest.raises(SealError, match="closure"):
        seal([mod])
