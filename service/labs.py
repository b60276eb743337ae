"""A lab exercise's training curves, as the service keeps and shows them.

A lab's grade report (grader/SPEC.md, lab exercises) carries `"lab": {"curves": {run: {"train":
[...], "val": [...], "train_acc"?: [...], "val_acc"?: [...]}}, "epochs": {run: {"best": int,
"stopped": int | None}}, "metric": "loss"}` for the runs `baseline`, `yours` (the student's
pieces) and `reference`: index 0 of a series is epoch 1, epochs are 1-based. The numbers come
out of a training run the student's code took part in, so they are data to check, not to trust:
`clean_lab` keeps only the known runs and series, caps their lengths, turns every value that is
not a finite number (NaN, inf, a string) into None (a gap on the charts, `null` in JSON) and drops
marked epochs outside the run. The grade writer (service.grades) stores only what it returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

RUNS = ("baseline", "yours", "reference")
RUN_TITLES = {"baseline": "Baseline", "yours": "Your run", "reference": "Reference"}
SERIES = ("train", "val", "train_acc", "val_acc")
MARKS = ("best", "stopped")
MAX_EPOCHS = 1000
METRICS = ("loss",)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _series(raw: Any) -> list[float | None] | None:
    if not isinstance(raw, list | tuple):
        return None
    return [_number(v) for v in raw[:MAX_EPOCHS]]


def _epoch(raw: Any, epochs: int) -> int | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        return None
    return int(raw) if raw == int(raw) and 1 <= raw <= epochs else None


def _mapping(raw: Any) -> dict[str, Any]:
    return raw if isinstance(raw, dict) else {}


def clean_lab(raw: Any) -> dict[str, Any] | None:
    """The part of a report's `lab` that is safe to store and show, or None if it holds no
    curve at all (not a lab, or nothing usable)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("curves"), dict):
        return None
    curves: dict[str, dict[str, list[float | None]]] = {}
    for run in RUNS:
        found = raw["curves"].get(run)
        if not isinstance(found, dict):
            continue
        series = {name: s for name in SERIES if (s := _series(found.get(name))) is not None}
        if "train" in series or "val" in series:
            curves[run] = {"train": [], "val": [], **series}  # both always there, maybe empty
    if not curves:
        return None
    marked = _mapping(raw.get("epochs"))
    epochs: dict[str, dict[str, int | None]] = {}
    for run, series in curves.items():
        length = max(len(s) for s in series.values())
        found = _mapping(marked.get(run))
        epochs[run] = {mark: _epoch(found.get(mark), length) for mark in MARKS}
    metric = raw.get("metric") if raw.get("metric") in METRICS else "loss"
    return {"curves": curves, "epochs": epochs, "metric": metric}


@dataclass(frozen=True)
class Run:
    """One run's curves, as a page draws them."""

    name: str
    title: str
    train: list[float | None]
    val: list[float | None]
    train_acc: list[float | None] | None
    val_acc: list[float | None] | None
    best: int | None
    stopped: int | None

    @property
    def length(self) -> int:
        return max(len(self.train), len(self.val))


def runs(lab: dict[str, Any] | None) -> list[Run]:
    """A stored lab's runs in display order: baseline, the student's, the reference."""
    if not lab:
        return []
    found = []
    for name in RUNS:
        series = lab["curves"].get(name)
        if series is None:
            continue
        marks = lab["epochs"].get(name, {})
        found.append(
            Run(
                name=name,
                title=RUN_TITLES[name],
                train=series.get("train") or [],
                val=series.get("val") or [],
                train_acc=series.get("train_acc"),
                val_acc=series.get("val_acc"),
                best=marks.get("best"),
                stopped=marks.get("stopped"),
            )
        )
    return found


def final_validation_loss(lab: dict[str, Any] | None, run: str = "yours") -> float | None:
    """The run's validation loss at its last epoch; None if it has none or it is not a number
    (a run that diverged)."""
    if not lab or run not in lab["curves"]:
        return None
    series = lab["curves"][run].get("val") or []
    return series[-1] if series else None
