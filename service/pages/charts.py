"""Small charts as inline SVG, drawn on the server: no script, readable by screen readers (a
title and a description on each, and the same numbers in a table next to it)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

INK = "#1a1a1a"
BAR = "#1f4e99"
NEGATIVE = "#a4262c"
GRID = "#c8c8c8"
DASH = "\u2013"
FONT = 'font-family="system-ui, sans-serif" font-size="12"'
_ids = itertools.count(1)


def _svg(width: int, height: int, title: str, description: str, body: list[str]) -> Markup:
    """A figure: the title as its visible caption, the SVG labelled by it and described in
    words (the numbers a screen reader reads out)."""
    n = next(_ids)
    return Markup(
        f'<figure class="chart"><figcaption id="chart-title-{n}">{escape(title)}</figcaption>'
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" role="img" '
        f'aria-labelledby="chart-title-{n}" aria-describedby="chart-desc-{n}">'
        f"<title>{escape(title)}</title>"
        f'<desc id="chart-desc-{n}">{escape(description)}</desc>'
        + "".join(body)
        + "</svg></figure>"
    )


def histogram(
    counts: list[int],
    title: str,
    bands: list[str] | None = None,
    axis: str = "total score, percent",
    measure: str = "total score",
    unit: str = "%",
) -> Markup:
    """Vertical bars: how many students fall in each band (by default, of their total score in
    10% bands; `bands` names others, such as ranges of a loss)."""
    labels = bands or [f"{i * 10}{DASH}{(i + 1) * 10}" for i in range(len(counts))]
    width, height, left, bottom, top = 520, 220, 36, 40, 16
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max(counts) if counts and max(counts) > 0 else 1
    slot = plot_w / max(1, len(counts))
    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        f'stroke="{INK}"/>'
    ]
    for i, count in enumerate(counts):
        bar_h = plot_h * count / peak
        x = left + i * slot + 3
        y = top + plot_h - bar_h
        body.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot - 6:.1f}" '
            f'height="{bar_h:.1f}" fill="{BAR}"/>'
        )
        if count:
            body.append(
                f'<text x="{x + (slot - 6) / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
                f'fill="{INK}" {FONT}>{count}</text>'
            )
        body.append(
            f'<text x="{x + (slot - 6) / 2:.1f}" y="{top + plot_h + 16:.1f}" '
            f'text-anchor="middle" fill="{INK}" {FONT}>{escape(labels[i])}</text>'
        )
    body.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" '
        f'fill="{INK}" {FONT}>{escape(axis)}</text>'
    )
    shown = ", ".join(f"{labels[i]}{unit}: {c}" for i, c in enumerate(counts) if c)
    description = f"Students per band of {measure}. {shown or 'No scores yet.'}"
    return _svg(width, height, title, description, body)


@dataclass
class Bar:
    label: str
    value: float | None
    text: str


def bar_chart(bars: list[Bar], title: str, low: float, high: float, unit: str = "") -> Markup:
    """Horizontal bars on [low, high]; a zero line when the range spans zero."""
    row_h, left, right = 26, 210, 60
    width = 620
    height = row_h * max(1, len(bars)) + 30
    plot_w = width - left - right
    span = (high - low) or 1.0

    def x_of(value: float) -> float:
        return left + plot_w * (min(high, max(low, value)) - low) / span

    zero = x_of(0.0 if low < 0 < high else low)
    body = []
    for tick in (low, (low + high) / 2, high):
        x = x_of(tick)
        body.append(
            f'<line x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{height - 22}" stroke="{GRID}"/>'
            f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" fill="{INK}" {FONT}>'
            f"{tick:g}{escape(unit)}</text>"
        )
    for i, bar in enumerate(bars):
        y = 6 + i * row_h
        label = bar.label if len(bar.label) <= 30 else bar.label[:29] + "…"
        body.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" fill="{INK}" {FONT}>'
            f"{escape(label)}</text>"
        )
        if bar.value is not None:
            end = x_of(bar.value)
            x, w = min(zero, end), abs(end - zero)
            colour = NEGATIVE if bar.value < 0 else BAR
            body.append(
                f'<rect x="{x:.1f}" y="{y + 3}" width="{max(w, 1.5):.1f}" height="{row_h - 10}" '
                f'fill="{colour}"/>'
            )
        body.append(
            f'<text x="{left + plot_w + 6}" y="{y + 15}" fill="{INK}" {FONT}>'
            f"{escape(bar.text)}</text>"
        )
    if low < 0 < high:
        body.append(
            f'<line x1="{zero:.1f}" y1="4" x2="{zero:.1f}" y2="{height - 22}" stroke="{INK}"/>'
        )
    description = "; ".join(f"{b.label}: {b.text}" for b in bars) or "No data yet."
    return _svg(width, height, title, description, body)


@dataclass
class Line:
    """One series of a line chart: values per step (index 0 is step 1), None for a gap."""

    label: str
    values: list[float | None]
    kind: str  # a class name, such as "train" or "val"
    colour: str
    dash: str = ""


@dataclass
class Mark:
    """A marked step: a vertical rule with a label (the best epoch, the stopping epoch)."""

    step: int
    label: str
    kind: str
    colour: str
    dash: str = ""


def _finite(value: float | None) -> float | None:
    return value if isinstance(value, int | float) and math.isfinite(value) else None


def nice_step(span: float, count: int) -> float:
    """A round step (1, 2 or 5 times a power of ten) dividing `span` into about `count` parts."""
    raw = span / max(1, count) if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def line_chart(
    lines: list[Line],
    marks: list[Mark],
    title: str,
    description: str,
    steps: int,
    low: float,
    high: float,
    axis: tuple[str, str] = ("epoch", "loss"),
) -> Markup:
    """Lines over steps 1..steps on [low, high] (values outside are drawn at the edge), with
    marked steps. A value that is None or not finite leaves a gap; a lone value is a dot."""
    width, height, left, right, top, bottom = 360, 240, 46, 18, 28, 38
    plot_w, plot_h = width - left - right, height - top - bottom
    span = (high - low) or 1.0

    def x_of(step: float) -> float:
        return left + plot_w * (step - 1) / max(1, steps - 1)

    def y_of(value: float) -> float:
        return top + plot_h * (1 - (min(high, max(low, value)) - low) / span)

    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        f'stroke="{INK}"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="{INK}"/>',
    ]
    y_step = nice_step(high - low, 4)
    tick = math.ceil(low / y_step) * y_step
    while tick <= high + 1e-12:
        y = y_of(tick)
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="{GRID}" '
            f'stroke-width="0.5"/><text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" '
            f'fill="{INK}" {FONT}>{tick:.3g}</text>'
        )
        tick += y_step
    x_step = max(1, int(nice_step(steps - 1, 5)))
    for step in [1, *range(x_step, steps + 1, x_step)]:
        body.append(
            f'<text x="{x_of(step):.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
            f'fill="{INK}" {FONT}>{step}</text>'
        )
    body.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" '
        f'fill="{INK}" {FONT}>{escape(axis[0])}</text>'
        f'<text x="12" y="{top + plot_h / 2:.1f}" text-anchor="middle" fill="{INK}" {FONT} '
        f'transform="rotate(-90 12 {top + plot_h / 2:.1f})">{escape(axis[1])}</text>'
    )
    for line in lines:
        body.extend(_polyline(line, x_of, y_of))
    for i, mark in enumerate(marks):
        if not 1 <= mark.step <= steps:
            continue
        x = x_of(mark.step)
        anchor = "end" if x > left + plot_w * 0.7 else "start"
        shift = -3 if anchor == "end" else 3
        body.append(
            f'<g class="mark {escape(mark.kind)}" data-epoch="{mark.step}">'
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" '
            f'stroke="{mark.colour}" stroke-width="1.5"'
            + (f' stroke-dasharray="{mark.dash}"' if mark.dash else "")
            + f'/><text x="{x + shift:.1f}" y="{top - 14 + 12 * i}" text-anchor="{anchor}" '
            f'fill="{mark.colour}" {FONT}>{escape(mark.label)}</text></g>'
        )
    return _svg(width, height, title, description, body)


def _polyline(line: Line, x_of: Any, y_of: Any) -> list[str]:
    """A series as one path, broken at its gaps; points without a neighbour are dots."""
    commands: list[str] = []
    dots: list[str] = []
    values = [_finite(v) for v in line.values]
    for i, value in enumerate(values):
        if value is None:
            continue
        before = i > 0 and values[i - 1] is not None
        after = i + 1 < len(values) and values[i + 1] is not None
        x, y = x_of(i + 1), y_of(value)
        commands.append(f"{'L' if before else 'M'}{x:.1f} {y:.1f}")
        if not before and not after:
            dots.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{line.colour}"/>')
    dash = f' stroke-dasharray="{line.dash}"' if line.dash else ""
    path = (
        f'<path d="{" ".join(commands)}" fill="none" stroke="{line.colour}" stroke-width="2"'
        f"{dash}/>"
        if commands
        else ""
    )
    return [
        f'<g class="series {escape(line.kind)}" data-points="{len(commands)}">'
        f"<title>{escape(line.label)}</title>{path}{''.join(dots)}</g>"
    ]
