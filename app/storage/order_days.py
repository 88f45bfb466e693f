"""The customers' order days with running totals (``customer_order_days``, schema version 10).

One row per customer and day with a charged order (status ``paid`` or ``refunded``), holding the
totals of the customer's charged orders up to that day: orders, amount, distinct order days, the
first day, and the median gap in days between consecutive order days. With ``next_day`` (the
customer's next order day, :data:`NO_NEXT_DAY` on the latest) the row *in force* at any date ``d`` is
the one with ``day <= d < next_day``, so facts at ``d`` read one row per customer instead of every order, and a
window ``(d - n, d]`` is the difference with the row in force at ``d - n``.

:class:`OrderDays` accumulates (customer, day, orders, amount) from any source, through
:class:`~app.storage.summaries.DailySummaries`: the generated or imported rows in memory, or the
orders stored in a database (a refresh, the version-10 migration); both run the same code, so the
table is identical whoever builds it.

Example:
    >>> import datetime as dt
    >>> acc = OrderDays()
    >>> for day in (1, 3, 10):
    ...     acc.add("c1", dt.date(2025, 1, day), 1, 500)
    >>> [(r["day"].day, r["orders_to_date"], r["median_gap_days"]) for r in acc.rows()]
    [(1, 1, None), (3, 2, 2.0), (10, 3, 4.5)]
"""

from __future__ import annotations

import datetime as dt
from bisect import insort
from typing import Any

__all__ = ["NO_NEXT_DAY", "OrderDays", "median_of_sorted"]

NO_NEXT_DAY = dt.date(9999, 12, 31)
"""``next_day`` of a customer's latest order day: a real date (not null), so "in force at d" is the
single range ``next_day > d`` of an index."""


def median_of_sorted(values: list[int]) -> float | None:
    """The median of an ascending list as ``statistics.median`` gives it (None when empty)."""
    n = len(values)
    if not n:
        return None
    mid = n // 2
    return float(values[mid]) if n % 2 else (values[mid - 1] + values[mid]) / 2


class OrderDays:
    """Accumulates charged orders per customer and day into ``customer_order_days`` rows."""

    def __init__(self) -> None:
        self._days: dict[str, dict[dt.date, list[int]]] = {}

    def add(self, customer_id: str, day: dt.date, orders: int, amount_cents: int) -> None:
        """``orders`` charged orders of one customer on ``day`` worth ``amount_cents`` together."""
        days = self._days.get(customer_id)
        if days is None:
            days = self._days[customer_id] = {}
        slot = days.get(day)
        if slot is None:
            days[day] = [orders, amount_cents]
        else:
            slot[0] += orders
            slot[1] += amount_cents

    def rows(self) -> list[dict[str, Any]]:
        """The table's rows ordered by customer and day."""
        out: list[dict[str, Any]] = []
        for cid in sorted(self._days):
            days = self._days[cid]
            ordered = sorted(days)
            first = ordered[0]
            n = amount = 0
            gaps: list[int] = []
            previous: dt.date | None = None
            for k, day in enumerate(ordered):
                if previous is not None:
                    insort(gaps, (day - previous).days)
                n += days[day][0]
                amount += days[day][1]
                out.append(
                    {
                        "customer_id": cid,
                        "day": day,
                        "next_day": ordered[k + 1] if k + 1 < len(ordered) else NO_NEXT_DAY,
                        "first_day": first,
                        "orders_to_date": n,
                        "amount_to_date": amount,
                        "day_number": k + 1,
                        "median_gap_days": median_of_sorted(gaps),
                    }
                )
                previous = day
        return out
