"""Small charts as inline SVG, drawn on the server: no script, readable by screen readers (a
title and a description on each, and the same numbers in a table next to it)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

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
        f'<desc id="chart-desc-{n}">{escape(description)}</desc>'
        + "".join(body)
        + "</svg></figure>"
    )


def histogram(counts: list[int], title: str) -> Markup:
    """Vertical bars: how many students have a total in each 10% band."""
    width, height, left, bottom, top = 520, 220, 36, 40, 16
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max(counts) if counts and max(counts) > 0 else 1
    slot = plot_w / len(counts)
    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        f'stroke="{INK}"/>'
    ]
    for i, count in enumerate(counts):
        bar_h = plot_h * count / peak
        x = left + i * slot + 3
        y = top + plot_h - bar_h
        body.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot - 6:.1f}" height="{bar_h:.1f}" '
            f'fill="{BAR}"/>'
        )
        if count:
            body.append(
                f'<text x="{x + (slot - 6) / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
                f'fill="{INK}" {FONT}>{count}</text>'
            )
        body.append(
            f'<text x="{x + (slot - 6) / 2:.1f}" y="{top + plot_h + 16:.1f}" '
            f'text-anchor="middle" fill="{INK}" {FONT}>{i * 10}{DASH}{(i + 1) * 10}</text>'
        )
    body.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" '
        f'fill="{INK}" {FONT}>total score, percent</text>'
    )
    bands = ", ".join(f"{i * 10}{DASH}{(i + 1) * 10}%: {c}" for i, c in enumerate(counts) if c)
    description = f"Students per band of total score. {bands or 'No scores yet.'}"
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
