"""Lab runs as data (SPEC.md, "Lab exercises"): read a `train` step's output, measure its curves,
and the lab checks that compare the student's run with the reference run.

Trusted parent only. A run's output is a claim of the sandbox: `read_run` checks its shape, dtype,
lengths and finiteness against the lab's configuration before anything computes with it, and any
deviation is "malformed output", never a crash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader import lab

CURVES = ("train", "val", "train_acc", "val_acc")
KEYS = {*CURVES, "weights", "stopped", "best", "restored_val"}
MALFORMED = "malformed output"


class RunError(ValueError):
    """A run's output that is not what the lab's loop returns."""


@dataclass(frozen=True)
class LabRun:
    """One checked run: the curves (index 0 is epoch 1), and what early stopping reported."""

    curves: dict[str, np.ndarray]
    weights: dict[str, np.ndarray]
    stopped: int | None  # the 1-based epoch after which the run stopped, None if it ran out
    best: int | None  # the stopper's best epoch (1-based), None without early stopping
    restored_val: float | None

    @property
    def epochs(self) -> int:
        return int(self.curves["val"].size)

    @property
    def best_epoch(self) -> int:
        """The epoch (1-based) of the lowest validation loss on the curve (the first, on ties)."""
        return int(np.argmin(self.curves["val"])) + 1

    @property
    def best_val(self) -> float:
        return float(self.curves["val"].min())

    def gap(self, last: int) -> float:
        """Validation minus training loss, averaged over the last `last` epochs of the run."""
        k = min(last, self.epochs)
        return float(np.mean(self.curves["val"][-k:] - self.curves["train"][-k:]))

    def report(self) -> tuple[dict[str, list[float]], dict[str, int | None]]:
        """The run's part of `GradeReport.to_dict()["lab"]`: curves and marked epochs."""
        curves = {k: [float(v) for v in self.curves[k]] for k in CURVES}
        return curves, {"best": self.best_epoch, "stopped": self.stopped}


def _int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def read_run(out: Any, config: dict[str, Any]) -> LabRun:
    """The output of a `train` step as a LabRun; RunError (the message says what is wrong)
    unless it has exactly the form the lab's loop returns for this configuration."""
    if not isinstance(out, dict) or set(out) != KEYS:
        raise RunError("a training run returns the lab loop's record of curves, not this")
    max_epochs = int(config["train"]["epochs"])
    curves: dict[str, np.ndarray] = {}
    for name in CURVES:
        arr = out[name]
        if type(arr) is not np.ndarray or arr.dtype != np.float64 or arr.ndim != 1:
            raise RunError(f"the {name} curve is not a 1-d float64 array")
        if not 1 <= arr.size <= max_epochs:
            raise RunError(f"the {name} curve has {arr.size} epochs, the lab runs 1..{max_epochs}")
        if not np.isfinite(arr).all():
            epoch = int(np.flatnonzero(~np.isfinite(arr))[0]) + 1
            raise RunError(f"the {name} curve is not finite at epoch {epoch} (NaN or infinity)")
        low, high = (0.0, 1.0) if name.endswith("_acc") else (0.0, math.inf)
        if (arr < low).any() or (arr > high).any():
            raise RunError(f"the {name} curve has values outside [{low:g}, {high:g}]")
        curves[name] = arr
    if len({c.size for c in curves.values()}) != 1:
        raise RunError("the curves have different lengths")
    n = curves["val"].size
    stopped, best, restored = out["stopped"], out["best"], out["restored_val"]
    if stopped is None:
        if n != max_epochs:
            raise RunError(f"the run has {n} epochs of {max_epochs} but did not stop early")
    elif not _int(stopped) or int(stopped) != n:
        raise RunError("the stopping epoch is not the last epoch of the curves")
    if best is not None and (not _int(best) or not 1 <= int(best) <= n):
        raise RunError("the best epoch is not an epoch of the run")
    if restored is not None and (
        not isinstance(restored, float | np.floating) or not math.isfinite(float(restored))
    ):
        raise RunError("the restored validation loss is not a finite number")
    weights = out["weights"]
    expected = lab.shapes(config)
    if not isinstance(weights, dict) or set(weights) != set(expected):
        raise RunError("the final weights are not the lab network's parameters")
    for name, shape in expected.items():
        w = weights[name]
        if type(w) is not np.ndarray or w.dtype != np.float64 or w.shape != shape:
            raise RunError(f"the final weights {name} are not a float64 array of shape {shape}")
        if not np.isfinite(w).all():
            raise RunError(f"the final weights {name} are not finite")
    return LabRun(
        curves=curves,
        weights=dict(weights),
        stopped=None if stopped is None else int(stopped),
        best=None if best is None else int(best),
        restored_val=None if restored is None else float(restored),
    )


def expected_stop(val: np.ndarray, patience: int, min_delta: float) -> tuple[int | None, int]:
    """The early-stopping rule of the prompt, applied to a recorded curve: (the 1-based epoch
    after which training stops, or None if it never does; the best epoch so far, 1-based)."""
    best, best_epoch, waited = math.inf, 0, 0
    for t, loss in enumerate(val.tolist(), start=1):
        if loss < best - min_delta:
            best, best_epoch, waited = loss, t, 0
        else:
            waited += 1
        if waited >= patience:
            return t, best_epoch
    return None, best_epoch


# ---------------------------------------------------------------------------------------------
# the checks (registered in grader/checks.py); each gets the student's run and the reference's


def best_val_loss(yours: LabRun, ref: LabRun, check: dict[str, Any], config: Any) -> str | None:
    tol = float(check["tolerance"])
    diff = yours.best_val - ref.best_val
    if abs(diff) <= tol:
        return None
    if diff < 0:
        what = "lower than a correct answer gets: the run does not train like the reference's"
    elif yours.gap(10) > ref.gap(10):
        what = "the network still overfits: your regularizer does less than the reference's"
    else:
        what = (
            "your regularizer costs the network more than it gains (too strong, or applied where "
            "it should not be)"
        )
    return (
        f"your validation loss at the best epoch (epoch {yours.best_epoch}) is "
        f"{yours.best_val:.3f} vs about {ref.best_val:.3f} for the reference "
        f"(epoch {ref.best_epoch}; a correct answer is within ±{tol:g}): {what}"
    )


def train_val_gap(yours: LabRun, ref: LabRun, check: dict[str, Any], config: Any) -> str | None:
    tol, last = float(check["tolerance"]), int(check.get("last", 10))
    mine, theirs = yours.gap(last), ref.gap(last)
    if abs(mine - theirs) <= tol:
        return None
    what = (
        "the training and validation curves split apart more than they should: the network "
        "memorizes its training points"
        if mine > theirs
        else "the curves stay closer than with the reference's regularization: it is too strong, "
        "or the training loss is measured with the regularizer still active"
    )
    return (
        f"over the last {min(last, yours.epochs)} epochs your validation loss is "
        f"{mine:.3f} above your training loss, vs about {theirs:.3f} for the reference "
        f"(±{tol:g}): {what}"
    )


def eval_matches_weights(
    yours: LabRun, ref: LabRun, check: dict[str, Any], config: dict[str, Any]
) -> str | None:
    tol = float(check.get("tolerance", 1e-6))
    recorded = float(yours.curves["val"][-1])
    plain = lab.val_loss(config, yours.weights)
    if abs(recorded - plain) <= tol * max(1.0, abs(plain)):
        return None
    return (
        f"your last validation loss is {recorded:.4f}, but your network's final weights give "
        f"{plain:.4f} without dropout: in eval mode (training=False) dropout must leave the "
        "activations unchanged, so the validation curve is measured on the whole network"
    )


def stopping_epoch(
    yours: LabRun, ref: LabRun, check: dict[str, Any], config: dict[str, Any]
) -> str | None:
    reg = config["regularize"]
    patience, min_delta = int(reg["patience"]), float(reg["min_delta"])
    stop, best = expected_stop(yours.curves["val"], patience, min_delta)
    ran = yours.epochs
    rule = f"patience {patience}" + (f", min_delta {min_delta:g}" if min_delta else "")
    if stop is not None and stop != ran:
        return (
            f"your run stopped after epoch {yours.stopped or ran}, but on your own validation "
            f"curve the last improvement is at epoch {best}, so with {rule} training stops "
            f"after epoch {stop}"
        )
    if stop is None and yours.stopped is not None:
        return (
            f"your run stopped after epoch {yours.stopped}, but on your own validation curve the "
            f"last improvement is at epoch {best}: with {rule} it should not have stopped yet"
        )
    if yours.best is not None and yours.best != best:
        return (
            f"your EarlyStopping reports its best epoch as epoch {yours.best} (1-based), but on "
            f"your validation curve the loss last improved at epoch {best} ({rule})"
        )
    return None


def restored_weights(
    yours: LabRun, ref: LabRun, check: dict[str, Any], config: dict[str, Any]
) -> str | None:
    tol = float(check.get("tolerance", 1e-6))
    if yours.restored_val is None:
        return "your EarlyStopping kept no best_weights, so the best network cannot be restored"
    reg = config["regularize"]
    _, at = expected_stop(yours.curves["val"], int(reg["patience"]), float(reg["min_delta"]))
    loss = float(yours.curves["val"][at - 1])
    if abs(yours.restored_val - loss) <= tol * max(1.0, abs(loss)):
        return None
    return (
        f"the weights your EarlyStopping kept give a validation loss of {yours.restored_val:.4f}, "
        f"but at the best epoch ({at}) your curve shows {loss:.4f}: best_weights must be "
        "independent copies taken at the best epoch (the loop updates its arrays in place)"
    )


def curves_match(yours: LabRun, ref: LabRun, check: dict[str, Any], config: Any) -> str | None:
    """For pieces without randomness: the same curves as the reference, up to rounding."""
    tol = float(check.get("tolerance", 1e-6))
    n = min(yours.epochs, ref.epochs)
    for name in ("val", "train"):
        a, b = yours.curves[name][:n], ref.curves[name][:n]
        off = np.flatnonzero(np.abs(a - b) > tol * np.maximum(1.0, np.abs(b)))
        if off.size:
            e = int(off[0])
            end = f"; at the last epoch it is {a[-1]:.4f} vs {b[-1]:.4f}" if n > e + 1 else ""
            return (
                f"your {name} curve leaves the reference's at epoch {e + 1} ({a[e]:.6f} vs "
                f"{b[e]:.6f}){end}: nothing random is involved, so a correct answer gives the "
                f"reference's curve up to rounding (±{tol:g} relative)"
            )
    if yours.epochs != ref.epochs:
        return f"your run has {yours.epochs} epochs, the reference's {ref.epochs}"
    return None


LAB_CHECKS = {
    "curves_match": curves_match,
    "best_val_loss": best_val_loss,
    "train_val_gap": train_val_gap,
    "eval_matches_weights": eval_matches_weights,
    "stopping_epoch": stopping_epoch,
    "restored_weights": restored_weights,
}


def run_lab_check(
    check: dict[str, Any], out: Any, ref_out: Any, config: dict[str, Any]
) -> str | None:
    """None when the check passes, else what the curves show (or why the output is malformed)."""
    try:
        yours = read_run(out, config)
    except RunError as exc:
        return f"{MALFORMED}: {exc}"
    if check["check"] == "curves":
        return None
    try:
        ref = read_run(ref_out, config)
    except RunError as exc:
        return f"the reference run is malformed (exercise error): {exc}"
    return LAB_CHECKS[check["check"]](yours, ref, check, config)


# ---------------------------------------------------------------------------------------------
# the report


def shown_step(tests: list[Any]) -> tuple[int, int] | None:
    """(test index, step index) of the run the report shows: the first `train` step of a visible
    test that plugs in the submission's pieces (never a hidden test's: see SPEC.md)."""
    for i, test in enumerate(tests):
        if test.hidden:
            continue
        for j, step in enumerate(test.steps):
            if "train" in step and not (step["train"] or {}).get("baseline"):
                return i, j
    return None


def _step_out(outcome: Any, j: int) -> Any:
    if isinstance(outcome, list) and j < len(outcome) and isinstance(outcome[j], dict):
        return outcome[j].get("out")
    return None


def lab_report(
    config: dict[str, Any],
    tests: list[Any],
    outcomes: dict[int, Any],
    refs: dict[int, Any],
    baseline: Any,
) -> dict[str, Any] | None:
    """`GradeReport.to_dict()["lab"]`: the curves and marked epochs of the baseline, the student's
    visible run and the reference's (a run that is malformed is null)."""
    at = shown_step(tests)
    if at is None:
        return None
    i, j = at
    runs = {"baseline": baseline, "yours": _step_out(outcomes.get(i), j)}
    runs["reference"] = _step_out(refs.get(i), j)
    curves: dict[str, Any] = {}
    epochs: dict[str, Any] = {}
    for name, out in runs.items():
        try:
            curves[name], epochs[name] = read_run(out, config).report()
        except Exception:  # RunError, or whatever else odd data makes it raise: malformed
            curves[name] = epochs[name] = None
    return {"curves": curves, "epochs": epochs, "metric": "loss"}
