"""The dashboard's sales chart as SVG geometry: computed here, drawn by the template, no JavaScript."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from reports.selectors import DaySales
from shopsite.money import money, money_compact

WIDTH, HEIGHT = 960, 280
# Room for the revenue and date labels, also in a phone's larger type (dashboard.css).
LEFT, RIGHT, TOP, BOTTOM = 80, 12, 12, 36
Y_TICKS = 4
X_LABELS = 8


@dataclass(frozen=True)
class Bar:
    x: str
    y: str
    width: str
    height: str
    day: date
    orders: int
    revenue: Decimal


@dataclass(frozen=True)
class Tick:
    position: str
    label: str


@dataclass(frozen=True)
class SalesChart:
    width: int
    height: int
    left: int
    right: int
    baseline: int
    bars: list[Bar]
    y_ticks: list[Tick]
    x_labels: list[Tick]
    total_revenue: Decimal
    total_orders: int

    @property
    def bars_svg(self) -> SafeString:
        """Return the bars as SVG markup, each with a tooltip: built here, as a template loop over
        a thousand days (a three-year range) takes a hundred times longer."""
        # Every value below is a number, a date, or escaped.
        return mark_safe(
            "".join(
                f'<rect x="{bar.x}" y="{bar.y}" width="{bar.width}" height="{bar.height}" '
                f'data-day="{bar.day.isoformat()}"><title>{escape(_tooltip(bar))}</title></rect>'
                for bar in self.bars
            )
        )


def _tooltip(bar: Bar) -> str:
    orders = "1 order" if bar.orders == 1 else f"{bar.orders} orders"
    return f"{bar.day:%a} {bar.day.isoformat()}: {money(bar.revenue)} from {orders}"


def _number(value: float) -> str:
    # Coordinates as plain strings: a template never localises them into "12,5".
    return f"{value:.1f}"


def nice_step(maximum: float, ticks: int = Y_TICKS) -> float:
    """Return a round step (1, 2, 2.5 or 5 times a power of ten) so `ticks` steps cover `maximum`."""
    if maximum <= 0:
        return 1.0
    raw = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def sales_chart(days: Sequence[DaySales], *, width: int = WIDTH, height: int = HEIGHT) -> SalesChart:
    """Return the bars (one per day, height by revenue), the revenue axis and the date labels."""
    plot_width, plot_height = width - LEFT - RIGHT, height - TOP - BOTTOM
    baseline = TOP + plot_height
    step = nice_step(float(max((day.revenue for day in days), default=0)))
    top = step * Y_TICKS
    slot = plot_width / max(len(days), 1)
    # A gap between bars while they are wide enough to show one.
    bar_width = slot * 0.8 if slot >= 4 else slot
    bars = []
    for n, day in enumerate(days):
        bar_height = float(day.revenue) / top * plot_height
        bars.append(
            Bar(
                x=_number(LEFT + n * slot + (slot - bar_width) / 2),
                y=_number(baseline - bar_height),
                width=_number(bar_width),
                height=_number(bar_height),
                day=day.day,
                orders=day.orders,
                revenue=day.revenue,
            )
        )
    y_ticks = [
        Tick(_number(baseline - k * step / top * plot_height), money_compact(k * step))
        for k in range(Y_TICKS + 1)
    ]
    spaced = max(1, math.ceil(len(days) / X_LABELS))
    long_range = len(days) > 366
    x_labels = [
        Tick(
            _number(LEFT + (n + 0.5) * slot),
            day.day.isoformat() if long_range else f"{day.day:%b} {day.day.day}",
        )
        for n, day in enumerate(days)
        if n % spaced == 0
    ]
    return SalesChart(
        width=width,
        height=height,
        left=LEFT,
        right=width - RIGHT,
        baseline=baseline,
        bars=bars,
        y_ticks=y_ticks,
        x_labels=x_labels,
        total_revenue=sum((day.revenue for day in days), Decimal(0)),
        total_orders=sum(day.orders for day in days),
    )
