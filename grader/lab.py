"""The lab's training loop (SPEC.md, "Lab exercises"): a small numpy MLP trained on a small noisy
dataset, with the submission's regularizers plugged in.

Trusted code that runs *inside* the sandbox (imported by the harness before the fork): the pieces
it calls are the submission's (or the reference's, or none for the baseline), and whatever the run
returns is a claim the parent checks as data. Nothing here is ever given untrusted input in the
parent: the parent only validates the configuration (`validate_config`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

# role -> what the loop does with the submission's piece
ROLES = {
    "dropout": "dropout(h, p, training=..., rng=...) on every hidden activation",
    "l2_gradient": "l2_gradient(params, grads, weight_decay) -> the gradients with the penalty's",
    "early_stopping": "EarlyStopping(patience=..., min_delta=...).step(val_loss, params) -> stop?",
}
TASKS = ("moons",)
OPTIMIZERS = ("adam", "sgd")
MAX_EPOCHS = 1000
MAX_UNITS = 512
MAX_POINTS = 5000

# Every key of the `lab:` section below `data`, `model`, `train`, `regularize`, with its default.
DEFAULTS: dict[str, dict[str, Any]] = {
    "data": {"task": "moons", "n_train": 40, "n_val": 200, "noise": 0.3, "seed": 0},
    "model": {"hidden": [128, 128]},
    "train": {"epochs": 150, "optimizer": "adam", "lr": 0.01, "seed": 0},
    "regularize": {"dropout": 0.0, "weight_decay": 0.0, "patience": None, "min_delta": 0.0},
}


class LabConfigError(ValueError):
    """A `lab:` section that does not follow SPEC.md."""


def _number(value: Any, lo: float, hi: float, where: str, integer: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if integer:
        ok = ok and isinstance(value, int)
    if not ok or not lo <= value <= hi:
        kind = "an integer" if integer else "a number"
        raise LabConfigError(f"{where}: {value!r} must be {kind} in [{lo:g}, {hi:g}]")


def validate_config(raw: Any) -> dict[str, Any]:
    """The `lab:` section with every default filled in; LabConfigError if it is invalid."""
    if not isinstance(raw, dict):
        raise LabConfigError("lab: expected a mapping")
    unknown = sorted(set(raw) - {"pieces", *DEFAULTS})
    if unknown:
        raise LabConfigError(f"lab: unknown key(s) {unknown}")
    pieces = raw.get("pieces")
    if not isinstance(pieces, dict) or not pieces:
        raise LabConfigError(f"lab.pieces: a mapping of role ({sorted(ROLES)}) to a name")
    for role, name in pieces.items():
        if role not in ROLES:
            raise LabConfigError(f"lab.pieces: unknown role {role!r}; known: {sorted(ROLES)}")
        if not isinstance(name, str) or not name.isidentifier():
            raise LabConfigError(f"lab.pieces.{role}: {name!r} is not a Python identifier")
    config: dict[str, Any] = {"pieces": dict(pieces)}
    for section, defaults in DEFAULTS.items():
        given = raw.get(section, {})
        if not isinstance(given, dict):
            raise LabConfigError(f"lab.{section}: expected a mapping")
        extra = sorted(set(given) - set(defaults))
        if extra:
            raise LabConfigError(f"lab.{section}: unknown key(s) {extra}")
        config[section] = {**defaults, **given}
    data, model, train, reg = (config[s] for s in ("data", "model", "train", "regularize"))
    if data["task"] not in TASKS:
        raise LabConfigError(f"lab.data.task: one of {list(TASKS)}")
    _number(data["n_train"], 4, MAX_POINTS, "lab.data.n_train", integer=True)
    _number(data["n_val"], 4, MAX_POINTS, "lab.data.n_val", integer=True)
    _number(data["noise"], 0, 2, "lab.data.noise")
    _number(data["seed"], 0, 2**31, "lab.data.seed", integer=True)
    hidden = model["hidden"]
    if not isinstance(hidden, list) or not 1 <= len(hidden) <= 4:
        raise LabConfigError("lab.model.hidden: a list of 1 to 4 layer widths")
    for j, width in enumerate(hidden):
        _number(width, 1, MAX_UNITS, f"lab.model.hidden[{j}]", integer=True)
    _number(train["epochs"], 1, MAX_EPOCHS, "lab.train.epochs", integer=True)
    if train["optimizer"] not in OPTIMIZERS:
        raise LabConfigError(f"lab.train.optimizer: one of {list(OPTIMIZERS)}")
    _number(train["lr"], 1e-6, 10, "lab.train.lr")
    _number(train["seed"], 0, 2**31, "lab.train.seed", integer=True)
    _number(reg["dropout"], 0, 0.95, "lab.regularize.dropout")
    _number(reg["weight_decay"], 0, 10, "lab.regularize.weight_decay")
    if reg["patience"] is not None:
        _number(reg["patience"], 1, MAX_EPOCHS, "lab.regularize.patience", integer=True)
    _number(reg["min_delta"], 0, 10, "lab.regularize.min_delta")
    if "early_stopping" in pieces and reg["patience"] is None:
        raise LabConfigError("lab.regularize.patience: required with an early_stopping piece")
    return config


# ---------------------------------------------------------------------------------------------
# data and model


def moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles with Gaussian noise; labels alternate so classes balance."""
    y = np.arange(n) % 2
    t = rng.uniform(0.0, math.pi, n)
    x = np.where(y == 0, np.cos(t), 1.0 - np.cos(t))
    z = np.where(y == 0, np.sin(t), 0.5 - np.sin(t))
    points = np.stack([x, z], axis=1) + rng.normal(0.0, noise, (n, 2))
    return points, y


def dataset(data: dict[str, Any]) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(data["seed"])
    xt, yt = moons(data["n_train"], data["noise"], rng)
    xv, yv = moons(data["n_val"], data["noise"], rng)
    return xt, yt, xv, yv


def init_params(sizes: list[int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    params = {}
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes), start=1):
        params[f"W{i}"] = rng.normal(0.0, math.sqrt(2.0 / fan_in), (fan_in, fan_out))
        params[f"b{i}"] = np.zeros(fan_out)
    return params


Dropout = Callable[..., Any]


def forward(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    layers: int,
    drop: Dropout | None,
    p: float,
    training: bool,
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Logits, the inputs of each linear layer and the ReLU masks (for backprop)."""
    inputs, masks = [], []
    h = x
    for i in range(1, layers + 1):
        inputs.append(h)
        h = h @ params[f"W{i}"] + params[f"b{i}"]
        if i < layers:
            relu = h > 0
            h = np.maximum(h, 0.0)
            if drop is not None:
                out = np.asarray(drop(h, p, training=training, rng=rng), dtype=np.float64)
                if out.shape != h.shape:
                    raise ValueError(f"dropout returned shape {out.shape} for input {h.shape}")
                if training:
                    # Where dropout zeroed or scaled a unit, its gradient is scaled the same way.
                    with np.errstate(all="ignore"):
                        scale = np.divide(out, h, out=np.zeros_like(h), where=relu)
                    masks.append(scale)
                h = out
            elif training:
                masks.append(relu.astype(np.float64))
    return h, inputs, masks


def loss_and_accuracy(logits: np.ndarray, y: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Mean cross-entropy, accuracy, and the softmax's gradient per logit."""
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = len(y)
    loss = float(-logp[np.arange(n), y].mean())
    acc = float((logits.argmax(axis=1) == y).mean())
    grad = np.exp(logp)
    grad[np.arange(n), y] -= 1.0
    return loss, acc, grad / n


def backward(
    params: dict[str, np.ndarray],
    grad: np.ndarray,
    inputs: list[np.ndarray],
    masks: list[np.ndarray],
    layers: int,
) -> dict[str, np.ndarray]:
    grads = {}
    for i in range(layers, 0, -1):
        grads[f"W{i}"] = inputs[i - 1].T @ grad
        grads[f"b{i}"] = grad.sum(axis=0)
        if i > 1:
            grad = (grad @ params[f"W{i}"].T) * masks[i - 2]
    return grads


# ---------------------------------------------------------------------------------------------
# the run


def train(
    config: dict[str, Any], pieces: dict[str, Any], dropout_seed: int | None = None
) -> dict[str, Any]:
    """One training run; `pieces` maps roles to the submission's objects (empty: the baseline).
    The data and the initial weights come from the configuration's seeds; the generator handed to
    dropout from `[train.seed, 1]`, or `[dropout_seed, 1]` when given (how the audit varies it).

    Returns the curves per epoch (index 0 is epoch 1; losses and accuracies measured in eval mode
    after the epoch's update), `stopped` (the 1-based epoch after which early stopping ended the
    run, or None), `best` (the stopper's best epoch, 1-based, or None) and `restored_val` (the
    validation loss of the stopper's `best_weights`, or None)."""
    data, train_cfg, reg = config["data"], config["train"], config["regularize"]
    seed = train_cfg["seed"]
    xt, yt, xv, yv = dataset(data)
    sizes = [2, *config["model"]["hidden"], 2]
    layers = len(sizes) - 1
    params = init_params(sizes, np.random.default_rng([seed, 0]))
    drop_rng = np.random.default_rng([seed if dropout_seed is None else dropout_seed, 1])
    drop = pieces.get("dropout")
    p = float(reg["dropout"]) if drop is not None else 0.0
    l2 = pieces.get("l2_gradient")
    stopper = None
    if "early_stopping" in pieces:
        stopper = pieces["early_stopping"](patience=reg["patience"], min_delta=reg["min_delta"])
    lr = float(train_cfg["lr"])
    adam = train_cfg["optimizer"] == "adam"
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v2 = {k: np.zeros_like(v) for k, v in params.items()}
    curves: dict[str, list[float]] = {"train": [], "val": [], "train_acc": [], "val_acc": []}
    stopped = None
    for epoch in range(1, train_cfg["epochs"] + 1):
        logits, inputs, masks = forward(params, xt, layers, drop, p, True, drop_rng)
        _, _, grad = loss_and_accuracy(logits, yt)
        grads = backward(params, grad, inputs, masks, layers)
        if l2 is not None:
            grads = dict(l2(params, grads, float(reg["weight_decay"])))
        for k in params:
            g = np.asarray(grads[k], dtype=np.float64).reshape(params[k].shape)
            if adam:
                m[k] = 0.9 * m[k] + 0.1 * g
                v2[k] = 0.999 * v2[k] + 0.001 * g * g
                mhat = m[k] / (1 - 0.9**epoch)
                vhat = v2[k] / (1 - 0.999**epoch)
                params[k] -= lr * mhat / (np.sqrt(vhat) + 1e-8)
            else:
                params[k] -= lr * g  # in place, as real training loops do
        for name, x, y in (("train", xt, yt), ("val", xv, yv)):
            out, _, _ = forward(params, x, layers, drop, p, False, drop_rng)
            loss, acc, _ = loss_and_accuracy(out, y)
            curves[name].append(loss)
            curves[f"{name}_acc"].append(acc)
        if stopper is not None and stopper.step(curves["val"][-1], params):
            stopped = epoch
            break
    result: dict[str, Any] = {k: np.array(v, dtype=np.float64) for k, v in curves.items()}
    result["weights"] = {k: w.copy() for k, w in params.items()}
    result["stopped"] = stopped
    result["best"] = None
    result["restored_val"] = None
    if stopper is not None and getattr(stopper, "best_epoch", None) is not None:
        result["best"] = int(stopper.best_epoch) + 1
        kept = {k: np.asarray(w, dtype=np.float64) for k, w in stopper.best_weights.items()}
        result["restored_val"] = val_loss(config, kept, (xv, yv))
    return result


def shapes(config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """The shape of every parameter of the configuration's network."""
    sizes = [2, *config["model"]["hidden"], 2]
    out: dict[str, tuple[int, ...]] = {}
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes), start=1):
        out[f"W{i}"], out[f"b{i}"] = (fan_in, fan_out), (fan_out,)
    return out


def val_loss(
    config: dict[str, Any],
    params: dict[str, np.ndarray],
    val: tuple[np.ndarray, np.ndarray] | None = None,
) -> float:
    """The validation loss of these weights, no dropout (what eval mode must compute). Also run
    by the parent on weights a run returned, once their shapes are checked (`shapes`)."""
    xv, yv = val if val is not None else dataset(config["data"])[2:]
    layers = len(config["model"]["hidden"]) + 1
    out, _, _ = forward(params, xv, layers, None, 0.0, False, np.random.default_rng(0))
    return loss_and_accuracy(out, yv)[0]
