"""A lab exercise's `lab` report part (grader/SPEC.md) as the grader hands it over, for the tests
of the service side (tests/service/test_lab_pages.py)."""

from __future__ import annotations

import math
from typing import Any

EPOCHS = 20  # the baseline runs them all; the student's run stops at 13, the reference's at 12


def _val(best: int, floor: float, rise: float, epochs: int) -> list[float]:
    """A validation loss falling to `floor` at epoch `best`, then rising by `rise` per epoch."""
    return [
        round(floor + (0.02 * (best - e) ** 2 if e < best else rise * (e - best)), 4)
        for e in range(1, epochs + 1)
    ]


def _train(floor: float, epochs: int) -> list[float]:
    return [round(floor + (0.7 - floor) * 0.8**e, 4) for e in range(epochs)]


def lab_report(final_yours: float = 0.41, hostile: bool = True) -> dict[str, Any]:
    """A lab's `lab` part: the baseline overfits (best epoch 5, never stopped), the student's
    and the reference's runs are regularized and stopped early. `hostile`: the student's run
    also holds NaN and inf (gaps), a string, a boolean, and a run and a series no one knows."""
    yours_val: list[Any] = _val(8, 0.38, 0.006, 13)
    yours_val[-1] = final_yours
    curves: dict[str, Any] = {
        "baseline": {"train": _train(0.0, EPOCHS), "val": _val(5, 0.52, 0.03, EPOCHS)},
        "yours": {"train": _train(0.3, 13), "val": yours_val},
        "reference": {
            "train": _train(0.3, 12),
            "val": _val(8, 0.37, 0.005, 12),
            "val_acc": [0.8] * 12,
        },
    }
    if hostile:
        yours_val[8], yours_val[9], yours_val[10] = math.nan, math.inf, "<script>alert(1)</script>"
        yours_val[11] = True
        curves["yours"]["<b>"] = [1.0]
        curves["<svg onload=alert(1)>"] = {"train": [1.0], "val": [1.0]}
    return {
        "curves": curves,
        "epochs": {
            "baseline": {"best": 5, "stopped": None},
            "yours": {"best": 8, "stopped": 13},
            "reference": {"best": 8, "stopped": 12.0},
        },
        "metric": "loss",
    }
