"""A lab submission's training curves on its page: one chart per run (baseline, the student's,
the reference) on the same axes, training and validation loss per epoch, the best and the stopping
epoch marked, each chart described in words, and the numbers in tables (service.labs)."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from service.labs import RUN_TITLES, Run, runs
from service.models import Submission
from service.pages import charts

TRAIN = charts.BAR
VAL = "#b34700"
BEST = "#1b6e2a"
STOPPED = charts.NEGATIVE
NONE = "—"
SERIES_TITLES = {
    "train": "training loss",
    "val": "validation loss",
    "train_acc": "training accuracy",
    "val_acc": "validation accuracy",
}
TRUSTED_SPAN = 1.5  # a run far above the baseline and reference is drawn at the top edge


@dataclass
class RunSummary:
    run: Run
    lowest_val: str
    lowest_at: int | None
    final_val: str
    final_gap: str


@dataclass
class LabFigure:
    charts: list[Markup]
    summaries: list[RunSummary]
    columns: list[str]
    rows: list[tuple[int, list[str], str]]  # epoch, cells, what is marked there
    missing: list[str]  # the runs that produced no curves (their output was malformed)


def number(value: float | None) -> str:
    return NONE if value is None else f"{value:.4f}"


def _finite(series: list[float | None]) -> list[float]:
    return [v for v in series if v is not None]


def _range(found: list[Run]) -> tuple[float, float]:
    values = [v for r in found for v in _finite([*r.train, *r.val])]
    if not values:
        return 0.0, 1.0
    trusted = [v for r in found if r.name != "yours" for v in _finite([*r.train, *r.val])]
    high = max(values)
    if trusted:
        high = min(high, TRUSTED_SPAN * max(trusted))
    low = min(0.0, min(values))
    return low, high if high > low else low + 1.0


def _lowest(series: list[float | None]) -> tuple[float | None, int | None]:
    finite = [(v, i + 1) for i, v in enumerate(series) if v is not None]
    if not finite:
        return None, None
    value, epoch = min(finite)
    return value, epoch


def _last(series: list[float | None]) -> float | None:
    return series[-1] if series else None


def _describe(run: Run, steps: int) -> str:
    parts = [f"{run.title}, {run.length} of {steps} epochs."]
    for name, series in (("Training loss", run.train), ("Validation loss", run.val)):
        finite = _finite(series)
        if not finite:
            parts.append(f"{name}: no finite values.")
            continue
        lowest, at = _lowest(series)
        parts.append(
            f"{name} from {number(finite[0])} to {number(finite[-1])}, "
            f"lowest {number(lowest)} at epoch {at}."
        )
        gaps = len(series) - len(finite)
        if gaps:
            parts.append(f"{gaps} epochs of it are not a number (gaps).")
    parts.append(f"Best epoch: {run.best}." if run.best else "No best epoch marked.")
    parts.append(
        f"Stopped at epoch {run.stopped}." if run.stopped else "Not stopped early: ran every epoch."
    )
    return " ".join(parts)


def _chart(run: Run, steps: int, low: float, high: float) -> Markup:
    lines = [
        charts.Line(SERIES_TITLES["train"], run.train, "train", TRAIN),
        charts.Line(SERIES_TITLES["val"], run.val, "val", VAL, dash="6 3"),
    ]
    marks = []
    if run.best:
        marks.append(charts.Mark(run.best, f"best {run.best}", "best", BEST, dash="4 3"))
    if run.stopped:
        marks.append(charts.Mark(run.stopped, f"stopped {run.stopped}", "stopped", STOPPED))
    return charts.line_chart(
        lines, marks, f"{run.title}: loss per epoch", _describe(run, steps), steps, low, high
    )


def lab_figure(submission: Submission) -> LabFigure | None:
    """What the page shows of a lab submission's curves; None if it has none."""
    found = runs(submission.lab)
    if not found:
        return None
    steps = max(1, *(r.length for r in found))
    low, high = _range(found)
    shown = [(r, getattr(r, n), n) for r in found for n in SERIES_TITLES if getattr(r, n)]
    columns = [f"{run.title}: {SERIES_TITLES[name]}" for run, _, name in shown]
    rows = []
    for epoch in range(1, steps + 1):
        cells = [number(s[epoch - 1]) if epoch <= len(s) else "" for _, s, _ in shown]
        marked = [
            f"{r.title}: {what}"
            for r in found
            for what, at in (("best", r.best), ("stopped", r.stopped))
            if at == epoch
        ]
        rows.append((epoch, cells, "; ".join(marked)))
    summaries = []
    for run in found:
        lowest, at = _lowest(run.val)
        train, val = _last(run.train), _last(run.val)
        gap = None if train is None or val is None else val - train
        summaries.append(RunSummary(run, number(lowest), at, number(val), number(gap)))
    return LabFigure(
        charts=[_chart(r, steps, low, high) for r in found],
        summaries=summaries,
        columns=columns,
        rows=rows,
        missing=[
            title for name, title in RUN_TITLES.items() if name not in {r.name for r in found}
        ],
    )
