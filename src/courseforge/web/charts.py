"""Bar charts as geometry for an SVG drawn on the server (templates/_bar_chart.html).

No JavaScript and no chart library: the stats page has two small daily charts, and a few
rectangles and labels are all they need. Values are stacked per day, bottom series first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 72, 12, 12, 48  # room for the axes' labels
# Axis maxima are one of these times a power of ten, so the midpoint tick reads well.
NICE_STEPS = (1, 2, 4, 10)
X_LABEL_EVERY = 7  # days between date labels


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str  # the CSS class of its colour
    title: str  # what a pointer's tooltip says


@dataclass(frozen=True)
class Tick:
    position: float  # y for the value axis, x for the day axis
    label: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    left: int
    top: int
    right: float
    bottom: float
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]


def nice_ceiling(value: float, minimum: float) -> float:
    """The smallest of 1, 2, 4, 10 × 10^k that is at least `value` (and `minimum`)."""
    value = max(value, minimum)
    power = 10 ** math.floor(math.log10(value))
    return float(next(step * power for step in NICE_STEPS if step * power >= value))


def stacked_bars(
    days: Sequence[date],
    series: Mapping[str, Sequence[float]],
    *,
    words: Callable[[float], str],
    minimum_top: float,
) -> BarChart:
    """One bar per day, each series (name → a value per day) stacked on the previous."""
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    totals = [sum(values[n] for values in series.values()) for n in range(len(days))]
    top_value = nice_ceiling(max(totals, default=0), minimum_top)
    scale = (bottom - TOP) / top_value
    slot = (right - LEFT) / max(len(days), 1)
    bars = []
    for n, day in enumerate(days):
        base = float(bottom)
        for name, values in series.items():
            if values[n] > 0:
                height = values[n] * scale
                base -= height
                title = f"{day:%b} {day.day}: {words(values[n])} {name}"
                bars.append(Bar(LEFT + n * slot + 1, base, slot - 2, height, name, title))
    y_ticks = [Tick(bottom - v * scale, words(v)) for v in (0, top_value / 2, top_value)]
    x_ticks = [
        Tick(LEFT + (n + 0.5) * slot, f"{day:%b} {day.day}")
        for n, day in enumerate(days)
        if (len(days) - 1 - n) % X_LABEL_EVERY == 0
    ]
    return BarChart(WIDTH, HEIGHT, LEFT, TOP, right, bottom, bars, y_ticks, x_ticks)
