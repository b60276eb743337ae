"""Values crossing the sandbox boundary.

`materialize` turns spec values into Python/numpy objects; it runs in the sandbox child (to build
the arguments) and in the trusted parent (to know what the arguments were). `encode` runs in the
child and turns outputs into JSON-able data plus binary blobs (every array and numpy scalar as a
plain `.npy` file); `decode` runs in the parent and rebuilds plain objects from that data, trusting
nothing: dtypes from an allow-list, the `.npy` header parsed by hand (never evaluated), sizes
checked before any allocation, no pickles.
"""

from __future__ import annotations

import math
import re
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_DEPTH = 32
ALLOWED_DTYPE_KINDS = "biufc"
# Characters of one string output: a longer one is sent (and decoded) as Unsupported.
MAX_STR = 100_000
# Bytes the parent's decoded values of one run may take (the bank's largest run needs under
# 2 MiB): the result channel's cap counts bytes on the wire, and what they decode to may be wider
# (a string of one astral character takes 4 bytes per character).
MAX_DECODED = 8 << 20


class DecodeError(ValueError):
    """Data from the sandbox that does not follow the protocol."""


@dataclass(frozen=True)
class Unsupported:
    """An output the child could not encode (object arrays, subclasses, arbitrary objects...)."""

    description: str


# --------------------------------------------------------------------------------------------
# materialize (spec value -> object)


def materialize(
    value: Any, lets: dict[str, Any], rep: int | None = None, arrays: ArrayCache | None = None
) -> Any:
    """The object a spec value stands for; `arrays` (the parent's) builds each `$array` once."""
    if isinstance(value, list):
        return [materialize(v, lets, rep, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, arg),) = value.items()
        if tag == "$ref":
            return lets[arg]
        if tag == "$rng":
            return np.random.default_rng(arg if rep is None else [arg, rep])
        if tag == "$float":
            return float(str(arg))
        if tag == "$tuple":
            return tuple(materialize(v, lets, rep, arrays) for v in arg)
        if tag == "$array":
            return make_array(arg) if arrays is None else arrays.get(arg)
    return {k: materialize(v, lets, rep, arrays) for k, v in value.items()}


class ArrayCache:
    """`make_array` results by content, for the trusted parent, which rebuilds every test's inputs
    at each grading: a fresh copy each time (so in-place `mutate` steps never leak into the cache),
    at most `max_bytes` kept, arrays over `max_item` bytes not kept at all."""

    def __init__(self, max_bytes: int = 32 << 20, max_item: int = 4 << 20) -> None:
        self.max_bytes = max_bytes
        self.max_item = max_item
        self._arrays: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, spec: dict[str, Any]) -> np.ndarray:
        # Specs are plain JSON-like data, for which repr() is exact and distinct (1 vs 1.0 vs True);
        # the same content in another key order is only a miss.
        key = repr(spec)
        with self._lock:
            arr = self._arrays.get(key)
            if arr is not None:
                self._arrays.move_to_end(key)
        if arr is None:
            arr = make_array(spec)
            if arr.nbytes <= self.max_item:
                with self._lock:
                    if key not in self._arrays:
                        self._arrays[key] = arr
                        self._bytes += arr.nbytes
                    while self._bytes > self.max_bytes:
                        _, old = self._arrays.popitem(last=False)
                        self._bytes -= old.nbytes
        return arr.copy()


def make_array(spec: dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(spec.get("dtype", "int64" if spec.get("random") == "integers" else "float64"))
    if "values" in spec:
        return np.array(_float_strings(spec["values"]), dtype=dtype)
    shape = tuple(spec.get("shape", ()))
    if "full" in spec:
        return np.full(
            shape,
            float(spec["full"]) if isinstance(spec["full"], str) else spec["full"],
            dtype=dtype,
        )
    if "arange" in spec:
        arr = np.arange(*spec["arange"], dtype=dtype)
        return arr.reshape(shape) if "shape" in spec else arr
    rng = np.random.default_rng(spec["seed"])
    kind = spec["random"]
    out: np.ndarray
    if kind == "normal":
        out = rng.normal(spec.get("loc", 0.0), spec.get("scale", 1.0), shape)
    elif kind == "uniform":
        out = rng.uniform(spec.get("low", 0.0), spec.get("high", 1.0), shape)
    else:
        out = rng.integers(spec.get("low", 0), spec.get("high", 10), shape)
    if "decimals" in spec:
        out = np.round(out, spec["decimals"])
    return np.asarray(out).astype(dtype)


def apply_mutation(lets: dict[str, Any], body: dict[str, Any]) -> None:
    """A `mutate` step: change a named value in place (both sides apply it to their own copy)."""
    target = lets[body["ref"]]
    for key in body.get("path", []):
        target = target[key]
    if not isinstance(target, np.ndarray):
        raise TypeError("the value to mutate is not an array")
    if body["op"] == "add":
        np.add(target, body["value"], out=target, casting="unsafe")
    elif body["op"] == "multiply":
        np.multiply(target, body["value"], out=target, casting="unsafe")
    else:
        target[...] = body["value"]


def _float_strings(values: Any) -> Any:
    if isinstance(values, list):
        return [_float_strings(v) for v in values]
    return float(values) if isinstance(values, str) else values


# --------------------------------------------------------------------------------------------
# encode (child side)


# A blob: the `.npy` header and the array's bytes, written to the channel one after the other.
Blob = tuple[bytes, bytes]


def encode(value: Any, blobs: list[Blob], depth: int = 0) -> Any:
    """Turn an output into JSON-able data; arrays and numpy scalars go to `blobs` and are named by
    their index. Exact type checks so subclasses cannot pose as arrays."""
    if depth > MAX_DEPTH:
        return {"$unsupported": "nesting too deep"}
    t = type(value)
    if t is str and len(value) > MAX_STR:
        return {"$unsupported": _long_string(len(value))}
    if value is None or t is bool or t is str:
        return value
    if t is int:
        try:
            return value if abs(value) < 2**63 else {"$bigint": str(value)}
        except ValueError:
            return {"$unsupported": "an integer too large to print"}
    if t is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if t is np.ndarray:
        if value.dtype.kind not in ALLOWED_DTYPE_KINDS:
            return {"$unsupported": f"a numpy array of dtype {value.dtype}"}
        if value.ndim > MAX_NDIM:  # numpy allows 64; `decode` takes no more than MAX_NDIM
            return {"$unsupported": f"a numpy array of {value.ndim} dimensions"}
        return {"$nd": _npy(value, blobs)}
    if _numpy_scalar_type(t):
        if np.dtype(t).kind not in ALLOWED_DTYPE_KINDS:
            return {"$unsupported": f"a numpy scalar of type {_type_name(t)}"}
        return {"$scalar": _npy(np.asarray(value), blobs)}
    if t is list:
        return [encode(v, blobs, depth + 1) for v in value]
    if t is tuple:
        return {"$tuple": [encode(v, blobs, depth + 1) for v in value]}
    if t is Unsupported:  # what `decode` made of one: encoded again as it came
        return {"$unsupported": value.description}
    if t is dict:
        items = []
        for k, v in value.items():
            if type(k) is not str:
                return {"$unsupported": "a dict with non-string keys"}
            items.append([k, encode(v, blobs, depth + 1)])
        return {"$dict": items}
    name = _type_name(t)
    if issubclass(t, np.ndarray):
        return {"$unsupported": f"an ndarray subclass ({name}), not a plain numpy array"}
    return {"$unsupported": f"an object of type {name}"}


def _long_string(length: int) -> str:
    return f"a string of {length:,} characters (the grader takes strings of at most {MAX_STR:,})"


# A type's name and module as the interpreter keeps them: no metaclass of the submission's runs.
_type_name = type.__dict__["__name__"].__get__
_type_module = type.__dict__["__module__"].__get__


def _numpy_scalar_type(t: type) -> bool:
    """Whether `t` is one of numpy's own scalar types. Read off the type, never the object (whose
    `__class__` may be a property: the sandbox's `encode` runs no code of the submission's)."""
    if type(t) is not type or not issubclass(t, np.generic):
        return False
    module = _type_module(t)
    return type(module) is str and module == "numpy"


NPY_MAGIC = b"\x93NUMPY\x01\x00"
MAX_NDIM = 32


def _npy(arr: np.ndarray, blobs: list[Blob]) -> int:
    """Append `arr` as a version 1.0 `.npy` file (C order) to `blobs`; returns its index.

    The header is written here, not by np.lib.format (after np.ascontiguousarray, which turns a 0-d
    array into shape (1,)). `tobytes()` copies now, in C order whatever the strides, so a later
    in-place change cannot alter what this step returned."""
    text = f"{{'descr': '{arr.dtype.str}', 'fortran_order': False, 'shape': {arr.shape!r}, }}"
    # Padded with spaces and a newline so the data starts 64-byte aligned, as numpy writes it.
    pad = -(len(NPY_MAGIC) + 2 + len(text) + 1) % 64
    header = (text + " " * pad + "\n").encode("ascii")
    blobs.append((NPY_MAGIC + len(header).to_bytes(2, "little") + header, arr.tobytes()))
    return len(blobs) - 1


def npy_bytes(value: np.ndarray | np.generic) -> bytes:
    """One array or numpy scalar as the bytes of a `.npy` file, as `encode` sends it."""
    blobs: list[Blob] = []
    _npy(np.asarray(value), blobs)
    return b"".join(blobs[0])


# --------------------------------------------------------------------------------------------
# decode (trusted parent side)


class DecodeBudget:
    """What the decoded values of one run may still cost the parent, in bytes. Each value is
    charged as `decode` makes it, before anything large is allocated (an array by its header), by
    what it takes as a Python object: a string by its decoded width. A value over the budget is
    decoded as Unsupported, which fails its checks with a message that says so. (Parent only:
    the harness never decodes.)"""

    def __init__(self, limit: int = MAX_DECODED) -> None:
        self.limit = limit
        self.left = limit
        # What every value gets once the budget is spent: one object, whatever their number.
        self.spent = Unsupported(
            f"an output beyond the {limit / MIB:g} MiB the grader keeps of a run's outputs "
            "(return smaller outputs)"
        )

    def take(self, cost: int, what: str) -> Unsupported | None:
        """None when `cost` fits (and is charged), else what the value decodes to."""
        if self.left <= 0:
            return self.spent
        if cost > self.left:
            self.left = 0
            return Unsupported(
                f"{what} ({cost / MIB:.1f} MiB once decoded): more than the {self.limit / MIB:g} "
                "MiB the grader keeps of a run's outputs (return smaller outputs)"
            )
        self.left -= cost
        return None


MIB = 1 << 20
# What a list, tuple and dict take beyond their items, and per item (CPython, 64-bit, rounded up).
_CONTAINER_COST = 64
_ITEM_COST = {"list": 8, "tuple": 8, "dict": 56}
_ARRAY_COST = 112


def decode(
    data: Any, blobs: list[Any] | None = None, depth: int = 0, budget: DecodeBudget | None = None
) -> Any:
    """Rebuild a value from `encode`'s data and its record's blobs (bytes-like `.npy` files).
    Each blob is used once (and removed from `blobs`): a reference cannot be repeated to multiply
    one array's size. With a `budget` (the run's), what the values cost is charged to it."""
    if depth > MAX_DEPTH:
        raise DecodeError("nesting too deep")
    if data is None or isinstance(data, bool):
        return data
    if isinstance(data, str):
        if budget is None:
            return data
        if len(data) > MAX_STR:
            return Unsupported(_long_string(len(data)))
        return budget.take(sys.getsizeof(data), "a string") or data
    if isinstance(data, int):
        return data if budget is None else budget.take(sys.getsizeof(data), "an integer") or data
    if isinstance(data, float):
        if not math.isfinite(data):  # `1e999`: `encode` sends non-finite floats as $float
            raise DecodeError("a non-finite bare float")
        return data if budget is None else budget.take(24, "a float") or data
    if isinstance(data, list):
        return _container("list", data, budget) or [
            decode(v, blobs, depth + 1, budget) for v in data
        ]
    if not isinstance(data, dict) or len(data) != 1:
        raise DecodeError("malformed value")
    ((tag, arg),) = data.items()
    if tag == "$float":
        if arg not in ("nan", "inf", "-inf"):
            raise DecodeError("malformed float")
        return float(arg) if budget is None else budget.take(24, "a float") or float(arg)
    if tag == "$bigint":
        if not isinstance(arg, str) or len(arg) > 4000:
            raise DecodeError("malformed integer")
        big = int(arg)
        return big if budget is None else budget.take(sys.getsizeof(big), "an integer") or big
    if tag in ("$nd", "$scalar"):
        if blobs is None or type(arg) is not int or not 0 <= arg < len(blobs):
            raise DecodeError("array reference out of range")
        raw, blobs[arg] = blobs[arg], None
        if raw is None:
            raise DecodeError("array referenced twice")
        layout = npy_layout(raw)
        if budget is not None:
            dtype, shape, count, _ = layout
            what = f"a numpy array of {count:,} {dtype} values, shape {shape}"
            too_large = budget.take(_ARRAY_COST + count * dtype.itemsize, what)
            if too_large is not None:
                return too_large
        arr = _npy_array(raw, layout)
        if tag == "$nd":
            return arr
        if arr.shape != ():
            raise DecodeError("scalar with a shape")
        return arr[()]
    if tag == "$tuple":
        if not isinstance(arg, list):
            raise DecodeError("malformed tuple")
        return _container("tuple", arg, budget) or tuple(
            decode(v, blobs, depth + 1, budget) for v in arg
        )
    if tag == "$dict":
        if not isinstance(arg, list):
            raise DecodeError("malformed dict")
        too_large = _container("dict", arg, budget)
        if too_large is not None:
            return too_large
        out = {}
        for item in arg:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                raise DecodeError("malformed dict item")
            key = decode(item[0], None, depth + 1, budget)
            if type(key) is not str:  # a key over the budget: so is the dict
                return key
            out[key] = decode(item[1], blobs, depth + 1, budget)
        return out
    if tag == "$unsupported":
        return Unsupported(str(arg)[:200])
    raise DecodeError(f"unknown tag {str(tag)[:40]!r}")


def _container(name: str, items: list[Any], budget: DecodeBudget | None) -> Unsupported | None:
    """Charge a list, tuple or dict of `items` (their own cost comes with each of them)."""
    if budget is None:
        return None
    what = f"a {name} of {len(items):,} items"
    return budget.take(_CONTAINER_COST + _ITEM_COST[name] * len(items), what)


def _allowed_descrs() -> dict[bytes, np.dtype[Any]]:
    out: dict[bytes, np.dtype[Any]] = {}
    for code in np.typecodes["AllInteger"] + np.typecodes["AllFloat"] + "?":
        for dt in (np.dtype(code), np.dtype(code).newbyteorder()):
            if dt.kind in ALLOWED_DTYPE_KINDS and not dt.hasobject and dt.fields is None:
                out[dt.str.encode("ascii")] = dt
    return out


# The only dtypes an array from the sandbox may have, by their exact `.npy` descr string.
ALLOWED_DESCRS = _allowed_descrs()
_DIM = rb"(?:0|[1-9][0-9]{0,18})"
# Exactly the header `_npy` writes (and numpy writes for these dtypes): no other keys, C order,
# a tuple of non-negative integers, then spaces and a newline. Parsed by hand, never evaluated.
_HEADER_RE = re.compile(
    rb"\{'descr': '([<>|=]?[A-Za-z][0-9]{0,3})', 'fortran_order': False, 'shape': \(("
    + rb"|"
    + _DIM
    + rb",|"
    + _DIM
    + rb"(?:, "
    + _DIM
    + rb")+"
    + rb")\), \} *\n"
)


def npy_layout(raw: Any) -> tuple[np.dtype[Any], tuple[int, ...], int, int]:
    """The dtype, shape, element count and data offset of a `.npy` file (bytes or memoryview) of
    exactly the form `_npy` writes, checked against the bytes present; nothing allocated."""
    if not isinstance(raw, bytes | memoryview):
        raise DecodeError("array payload is not bytes")
    size = len(raw)
    head = bytes(raw[:10])
    if head[:6] != NPY_MAGIC[:6]:
        raise DecodeError("bad npy header: not an npy file")
    if head[6:8] != NPY_MAGIC[6:]:
        raise DecodeError("unsupported npy version")
    if size < 10:
        raise DecodeError("bad npy header: truncated")
    end = 10 + int.from_bytes(head[8:10], "little")
    m = _HEADER_RE.fullmatch(bytes(raw[10:end])) if end <= size else None
    if m is None:
        raise DecodeError("bad npy header")
    dtype = ALLOWED_DESCRS.get(m.group(1))
    if dtype is None:
        raise DecodeError(f"dtype {m.group(1).decode('ascii')} is not allowed")
    shape = tuple(int(d) for d in m.group(2).split(b",") if d.strip())
    if len(shape) > MAX_NDIM:
        raise DecodeError("too many dimensions")
    count = math.prod(shape)
    if size - end != count * dtype.itemsize:
        raise DecodeError("array data does not match its header")
    return dtype, shape, count, end


def _npy_array(raw: Any, layout: tuple[np.dtype[Any], tuple[int, ...], int, int]) -> np.ndarray:
    dtype, shape, count, end = layout
    # A copy: nothing decoded refers to the channel's buffer (nor keeps it from being reused).
    return np.frombuffer(raw, dtype=dtype, count=count, offset=end).reshape(shape).copy()


def decode_npy(raw: Any) -> np.ndarray:
    """A `.npy` file (bytes or memoryview) of exactly the form `_npy` writes, as a new array."""
    return _npy_array(raw, npy_layout(raw))
