"""The sales chart's geometry: one bar per day, scaled under a round revenue axis."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from reports.charts import BOTTOM, HEIGHT, LEFT, TOP, nice_step, sales_chart
from reports.selectors import DaySales


def days(*revenues: int) -> list[DaySales]:
    start = date(2025, 1, 1)
    return [DaySales(start + timedelta(days=n), 1, Decimal(revenue)) for n, revenue in enumerate(revenues)]


@pytest.mark.parametrize(
    ("maximum", "step"),
    [(0, 1), (1, 0.25), (4, 1), (9, 2.5), (1_466_529.62, 500_000), (100, 25), (101, 50)],
)
def test_nice_step_covers_the_maximum_in_four_round_steps(maximum, step):
    assert nice_step(maximum) == pytest.approx(step)
    assert nice_step(maximum) * 4 >= maximum


def test_bars_are_as_tall_as_their_share_of_the_axis():
    chart = sales_chart(days(100, 50, 0))

    plot_height = HEIGHT - TOP - BOTTOM
    assert [bar.height for bar in chart.bars] == [f"{plot_height:.1f}", f"{plot_height / 2:.1f}", "0.0"]
    assert chart.bars[0].y == f"{TOP:.1f}"
    assert [tick.label for tick in chart.y_ticks] == ["$0", "$25", "$50", "$75", "$100"]
    assert chart.total_revenue == Decimal(150)
    assert chart.total_orders == 3


def test_bars_sit_side_by_side_from_the_left_axis():
    chart = sales_chart(days(1, 2, 3, 4))

    xs = [float(bar.x) for bar in chart.bars]
    assert xs == sorted(xs)
    assert xs[0] >= LEFT


def test_a_range_without_sales_draws_flat_bars_and_a_zero_axis():
    chart = sales_chart(days(0, 0))

    assert {bar.height for bar in chart.bars} == {"0.0"}
    assert chart.y_ticks[0].label == "$0"


@pytest.mark.parametrize(
    ("maximum", "labels"),
    [
        (1, ["$0", "$0.25", "$0.50", "$0.75", "$1"]),
        (3_000, ["$0", "$1k", "$2k", "$3k", "$4k"]),
        (9_000, ["$0", "$2.5k", "$5k", "$7.5k", "$10k"]),
        (1_466_529, ["$0", "$500k", "$1M", "$1.5M", "$2M"]),
    ],
)
def test_the_revenue_axis_is_labelled_in_short_money(maximum, labels):
    assert [tick.label for tick in sales_chart(days(0, maximum)).y_ticks] == labels


def test_the_revenue_axis_has_the_shops_currency_symbol(settings):
    settings.CURRENCY_SYMBOL = "€"

    assert sales_chart(days(0, 100)).y_ticks[-1].label == "€100"


def test_a_long_range_labels_at_most_eight_dates_with_their_year():
    chart = sales_chart(days(*[1] * 1095))

    assert len(chart.bars) == 1095
    assert len(chart.x_labels) <= 8
    assert chart.x_labels[0].label == "2025-01-01"


def test_a_short_range_labels_month_and_day():
    assert sales_chart(days(1, 2)).x_labels[0].label == "Jan 1"


def test_each_bar_has_a_tooltip_with_its_day_revenue_and_orders():
    svg = sales_chart(days(1234)).bars_svg

    assert svg.count("<rect ") == 1
    assert "<title>Wed 2025-01-01: $1,234.00 from 1 order</title>" in svg
    assert 'data-day="2025-01-01"' in svg
