"""The sold orders of a range of days, read across the three layers as one UNION ALL.

For a range [first, last] (docs/ARCHITECTURE.md, "Reports"), every day is read from exactly one
layer, chosen in SQL from `reports_reportwindow`, so a read is consistent in one statement even
while a refresh commits:

    closed days (day < closed_until)   the whole months of the range from the month table, where
                                        there is one, and the other days from the day table;
    recent days (closed_until <= day < recent_until)   the recent materialized view;
    the open period (from recent_until) counted live from the orders, by their `created` index.

Each branch gives the same columns: the day (a month's first day for month rows), then the
dimension's own. Names of tables and columns come from this module only, never from input;
values are named parameters (`%(first)s`, ...), filled by `range_params`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

SOLD = "('paid', 'shipped', 'delivered')"
# The window, as scalar subqueries: one-time InitPlans, so the index ranges below use their values.
CLOSED_UNTIL = "(SELECT COALESCE(closed_until, '-infinity'::date) FROM reports_reportwindow)"
RECENT_UNTIL = "(SELECT recent_until FROM reports_reportwindow)"
LIVE_SINCE = "(SELECT recent_until::timestamp AT TIME ZONE 'UTC' FROM reports_reportwindow)"
# The live orders of the range: created in it, and from the end of the recent days on. The
# `live_from` literal says the same as the window's subquery, or less (the caller's window may be
# a moment old; it only moves forward): it is there for the planner, whose estimate of a range of
# `created` from a literal is right where one from a subquery is a blind guess.
LIVE_ORDERS = (
    f"o.created >= %(live_from)s AND o.created >= GREATEST({LIVE_SINCE}, %(first_moment)s) "
    f"AND o.created < %(after_moment)s AND o.status IN {SOLD}"
)
ORDER_DAY = "(o.created AT TIME ZONE 'UTC')::date"


@dataclass(frozen=True)
class Dimension:
    """What one report counts per day, in each layer."""

    columns: str  # besides the day, in every layer's order
    closed_days: str  # table of closed days
    recent_days: str  # materialized view of the recent days
    live: str  # FROM ... of the live rows (alias o: the order), given `ORDER_DAY, {columns}`
    live_columns: str
    closed_months: str | None = None  # table of closed days summed per month


SALES = Dimension(
    columns="orders, revenue",
    closed_days="reports_closed_sales_day",
    recent_days="reports_sales_recent",
    live="accounts_order o",
    live_columns="1, o.total",
)
PRODUCTS = Dimension(
    columns="product_id, units, revenue",
    closed_days="reports_closed_product_day",
    recent_days="reports_product_recent",
    live="accounts_order o JOIN accounts_orderitem i ON i.order_id = o.id",
    live_columns="i.product_id, i.quantity, i.quantity * i.unit_price",
    closed_months="reports_closed_product_month",
)
CUSTOMERS = Dimension(
    columns="customer_id, orders, revenue",
    closed_days="reports_closed_customer_day",
    recent_days="reports_customer_recent",
    live="accounts_order o",
    live_columns="o.customer_id, 1, o.total",
    closed_months="reports_closed_customer_month",
)
CATEGORIES = Dimension(
    columns="category_id, units, revenue",
    closed_days="reports_closed_category_day",
    recent_days="reports_category_recent",
    live=(
        "accounts_order o JOIN accounts_orderitem i ON i.order_id = o.id "
        "JOIN catalog_product p ON p.id = i.product_id"
    ),
    live_columns="p.category_id, i.quantity, i.quantity * i.unit_price",
)


def days_sold(dimension: Dimension) -> str:
    """Return the SQL of the dimension's rows for the days %(first)s to %(last)s: `day, columns`."""
    columns = dimension.columns
    branches = []
    if dimension.closed_months:
        branches.append(
            f"SELECT month AS day, {columns} FROM {dimension.closed_months} "
            "WHERE month >= %(months_from)s AND month < %(months_until)s"
        )
        # The closed days before and after the whole months: two ranges of the day index.
        days = [
            "day >= %(first)s AND day < %(months_from)s",
            "day >= %(months_until)s AND day <= %(last)s",
        ]
    else:
        days = ["day >= %(first)s AND day <= %(last)s"]
    branches += [f"SELECT day, {columns} FROM {dimension.closed_days} WHERE {where}" for where in days]
    branches.append(
        f"SELECT day, {columns} FROM {dimension.recent_days} "
        f"WHERE day >= %(first)s AND day <= %(last)s AND day >= {CLOSED_UNTIL} AND day < {RECENT_UNTIL}"
    )
    branches.append(f"SELECT {ORDER_DAY}, {dimension.live_columns} FROM {dimension.live} WHERE {LIVE_ORDERS}")
    return "\nUNION ALL\n".join(branches)


def range_params(first: date, last: date, *, live_since: date | None) -> dict:
    """Return the parameters of `days_sold` for the days `first` to `last`, both included;
    `live_since` is the window's `recent_until` as the caller last read it (None: unknown)."""
    months_from, months_until = whole_months(first, last)
    return {
        "live_from": max(_midnight(first), _midnight(live_since)) if live_since else _midnight(first),
        "first": first,
        "last": last,
        "months_from": months_from,
        "months_until": months_until,
        "first_moment": _midnight(first),
        "after_moment": _after(last),
    }


def whole_months(first: date, last: date) -> tuple[date, date]:
    """Return [from, until): the first days of the whole months within [first, last]; an empty
    range (from == until) when the range holds no whole month."""
    start = first if first.day == 1 else _next_month(first)
    end = last.replace(day=1) if _next_day(last).day != 1 else _next_day(last)
    return (start, end) if start < end else (first, first)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1) if day < date(9999, 12, 1) else date.max


def _next_day(day: date) -> date:
    return day + timedelta(days=1) if day < date.max else day


def _after(last: date) -> datetime:
    """The first moment after the day `last`: the end of the calendar at its last day."""
    return _midnight(last) + timedelta(days=1) if last < date.max else datetime.max.replace(tzinfo=UTC)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)
