"""Values crossing the sandbox boundary.

`materialize` turns spec values into Python/numpy objects; it runs in the sandbox child (to build
the arguments) and in the trusted parent (to know what the arguments were). `encode` runs in the
child and turns outputs into JSON-able data; `decode` runs in the parent and rebuilds plain objects
from that data, trusting nothing: dtypes from an allow-list, sizes checked before any allocation,
no pickles.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_DEPTH = 32
ALLOWED_DTYPE_KINDS = "biufc"


class DecodeError(ValueError):
    """Data from the sandbox that does not follow the protocol."""


@dataclass(frozen=True)
class Unsupported:
    """An output the child could not encode (object arrays, subclasses, arbitrary objects...)."""

    description: str


# --------------------------------------------------------------------------------------------
# materialize (spec value -> object)


def materialize(value: Any, lets: dict[str, Any], rep: int | None = None) -> Any:
    if isinstance(value, list):
        return [materialize(v, lets, rep) for v in value]
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
            return tuple(materialize(v, lets, rep) for v in arg)
        if tag == "$array":
            return make_array(arg)
    return {k: materialize(v, lets, rep) for k, v in value.items()}


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


def encode(value: Any, depth: int = 0) -> Any:
    """Turn an output into JSON-able data. Exact type checks so subclasses cannot pose as arrays."""
    if depth > MAX_DEPTH:
        return {"$unsupported": "nesting too deep"}
    t = type(value)
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
        return {"$nd": _npy(value)}
    if isinstance(value, np.generic) and t.__module__ == "numpy":
        if np.dtype(t).kind not in ALLOWED_DTYPE_KINDS:
            return {"$unsupported": f"a numpy scalar of type {t.__name__}"}
        return {"$scalar": _npy(np.asarray(value))}
    if t is list:
        return [encode(v, depth + 1) for v in value]
    if t is tuple:
        return {"$tuple": [encode(v, depth + 1) for v in value]}
    if t is dict:
        items = []
        for k, v in value.items():
            if type(k) is not str:
                return {"$unsupported": "a dict with non-string keys"}
            items.append([k, encode(v, depth + 1)])
        return {"$dict": items}
    if isinstance(value, np.ndarray):
        return {"$unsupported": f"an ndarray subclass ({t.__name__}), not a plain numpy array"}
    return {"$unsupported": f"an object of type {t.__name__}"}


def _npy(arr: np.ndarray) -> str:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode("ascii")


# --------------------------------------------------------------------------------------------
# decode (trusted parent side)


def decode(data: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise DecodeError("nesting too deep")
    if data is None or isinstance(data, bool | str):
        return data
    if isinstance(data, int):
        return data
    if isinstance(data, float):
        return data
    if isinstance(data, list):
        return [decode(v, depth + 1) for v in data]
    if not isinstance(data, dict) or len(data) != 1:
        raise DecodeError("malformed value")
    ((tag, arg),) = data.items()
    if tag == "$float":
        if arg not in ("nan", "inf", "-inf"):
            raise DecodeError("malformed float")
        return float(arg)
    if tag == "$bigint":
        if not isinstance(arg, str) or len(arg) > 4000:
            raise DecodeError("malformed integer")
        return int(arg)
    if tag == "$nd":
        return decode_npy(arg)
    if tag == "$scalar":
        arr = decode_npy(arg)
        if arr.shape != ():
            raise DecodeError("scalar with a shape")
        return arr[()]
    if tag == "$tuple":
        if not isinstance(arg, list):
            raise DecodeError("malformed tuple")
        return tuple(decode(v, depth + 1) for v in arg)
    if tag == "$dict":
        if not isinstance(arg, list):
            raise DecodeError("malformed dict")
        out = {}
        for item in arg:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                raise DecodeError("malformed dict item")
            out[item[0]] = decode(item[1], depth + 1)
        return out
    if tag == "$unsupported":
        return Unsupported(str(arg)[:200])
    raise DecodeError(f"unknown tag {str(tag)[:40]!r}")


def decode_npy(b64: Any) -> np.ndarray:
    if not isinstance(b64, str):
        raise DecodeError("array payload is not a string")
    try:
        raw = base64.b64decode(b64, validate=True)
    except ValueError as exc:
        raise DecodeError("array payload is not base64") from exc
    fp = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise DecodeError("unsupported npy version")
    except (ValueError, SyntaxError) as exc:
        raise DecodeError(f"bad npy header: {exc}") from exc
    if dtype.hasobject or dtype.kind not in ALLOWED_DTYPE_KINDS or dtype.fields is not None:
        raise DecodeError(f"dtype {dtype} is not allowed")
    # Size is checked against the bytes actually present before allocating anything.
    count = math.prod(shape)
    data = raw[fp.tell() :]
    if len(data) != count * dtype.itemsize:
        raise DecodeError("array data does not match its header")
    arr = np.frombuffer(data, dtype=dtype, count=count)
    return arr.reshape(shape, order="F" if fortran else "C").copy()
