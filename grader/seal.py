"""A copy of the harness that the submission it runs can neither reach nor change.

The harness runs in the submission's own interpreter. Its modules are ordinary module objects: a
submission can reach their dictionaries (through any class they define, a function's
`__globals__`, `sys.modules`) and rebind what the harness calls (`emit`, `_sharing`, ...), and it
can rebind what every module shares (`builtins.isinstance`, `json.dumps`, `os.writev`,
`numpy.ndarray`). `seal` copies the harness's modules into namespaces of their own, once, in the
zygote, before any job: each function is re-made over its module's sealed namespace, whose
builtins are a private copy; other modules are seen through snapshots of their attributes taken
now; mutable constants are copied. Nothing refers to a sealed namespace but its own functions
(and the frames running them, which the harness's audit hook keeps out of the submission's reach
short of raw memory access, see SPEC.md "The harness inside the job"), so what the submission
changes in the real modules never changes what the harness does.

What stays shared is what no Python code can rebind: C functions and types, code objects, and the
library code below them (numpy's own Python-level internals, say, which the harness does not
call after the submission loaded on any path whose result it reports as an observation).
"""

from __future__ import annotations

import builtins
import copy
import types
from typing import Any

_MUTABLE = (dict, list, set, bytearray)
# Modules the harness hands on as they are: `builtins` becomes the submission's own builtins.
_AS_THEY_ARE = frozenset({"builtins"})


class SealError(RuntimeError):
    """A harness module holds something that cannot be sealed (a fix in the harness, not here)."""


def seal(modules: list[types.ModuleType]) -> dict[str, dict[str, Any]]:
    """Sealed namespaces of `modules` by module name. Each module's functions are re-made over
    its namespace; a name bound to a function or module of another of `modules` gets that one's
    sealed copy. Classes stay as they are: a method runs over its real module, so what the
    harness calls once a submission loaded is functions (classes only to compare types with)."""
    private_builtins = dict(vars(builtins))
    harness = {m.__name__: m for m in modules}
    spaces: dict[str, dict[str, Any]] = {
        name: {"__builtins__": private_builtins} for name in harness
    }
    owner = {id(vars(m)): name for name, m in harness.items()}
    clones: dict[int, types.FunctionType] = {}
    for name, module in harness.items():
        for key, value in vars(module).items():
            if isinstance(value, types.FunctionType) and id(value.__globals__) == id(vars(module)):
                clones[id(value)] = spaces[name][key] = _clone(value, spaces[name])
    views: dict[str, types.SimpleNamespace] = {}
    for name, module in harness.items():
        space = spaces[name]
        for key, value in vars(module).items():
            if key in space:
                continue
            if isinstance(value, types.FunctionType) and id(value.__globals__) in owner:
                space[key] = clones[id(value)]
            elif isinstance(value, types.ModuleType):
                shared = value.__name__ in harness or value.__name__ in _AS_THEY_ARE
                space[key] = value if shared else snapshot(value)
            elif isinstance(value, _MUTABLE):
                space[key] = copy.deepcopy(value)
            else:
                space[key] = value
    # Harness modules seen from another one (`lab.train` from the harness): a view of the sealed
    # namespace, made once every namespace is complete.
    for name in harness:
        views[name] = types.SimpleNamespace(**spaces[name])
    for space in spaces.values():
        for key, value in space.items():
            if isinstance(value, types.ModuleType) and value.__name__ in harness:
                space[key] = views[value.__name__]
    return spaces


def snapshot(module: types.ModuleType, depth: int = 1) -> types.SimpleNamespace:
    """The module's attributes as they are now; its own submodules (`numpy.random`) as snapshots
    too, `depth` levels down."""
    attrs = dict(vars(module))
    for key, value in attrs.items():
        if (
            depth > 0
            and isinstance(value, types.ModuleType)
            and value.__name__.startswith(module.__name__ + ".")
        ):
            attrs[key] = snapshot(value, depth - 1)
    return types.SimpleNamespace(**attrs)


def _clone(fn: types.FunctionType, space: dict[str, Any]) -> types.FunctionType:
    if fn.__closure__:
        # Cells are shared and writable (`cell_contents`): a module-level closure cannot be sealed.
        raise SealError(f"{fn.__module__}.{fn.__qualname__} is a closure")
    clone = types.FunctionType(fn.__code__, space, fn.__name__, fn.__defaults__, None)
    clone.__qualname__ = fn.__qualname__
    clone.__kwdefaults__ = copy.copy(fn.__kwdefaults__)
    return clone
