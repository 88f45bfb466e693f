"""Refunds of a generated world: money returned to customers, as records of their own.

Two sources, both tied to what already happened in the world, so generated and imported data
exercise the same refund code:

* every order with status ``refunded`` is refunded in full 2-14 days after it was placed
  (reasons: damaged, not as described, changed mind, duplicate charge; 15% without a reason,
  as in many real exports);
* a share of shipping and fulfillment complaints (a box lost or damaged on its way) is settled
  with a refund of half the customer's latest paid order, 1-3 days after the ticket.

Draws come from the world's own ``refunds`` random stream, created here: adding refunds leaves
every other table of the world unchanged.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from typing import Any

__all__ = ["refund_rows", "order_refund", "TICKET_REFUND_SHARE", "ORDER_REFUND_REASONS"]

ORDER_REFUND_REASONS: tuple[tuple[str | None, float], ...] = (
    ("damaged", 0.3),
    ("not_as_described", 0.2),
    ("changed_mind", 0.2),
    ("duplicate_charge", 0.15),
    (None, 0.15),
)
"""Reason of a refunded order (None: the record does not say), with its weight."""

TICKET_REFUND_SHARE = 0.3
"""Share of shipping and fulfillment tickets settled with a partial refund."""

_TICKET_REASON = {"shipping_delay": "lost_in_transit", "fulfillment": "damaged_in_transit"}


_REASONS = [r for r, _ in ORDER_REFUND_REASONS]
_WEIGHTS = [w for _, w in ORDER_REFUND_REASONS]


def order_refund(rng: random.Random, ordered_on: dt.date) -> tuple[dt.date, str | None]:
    """When a ``refunded`` order placed on ``ordered_on`` is refunded in full, and why."""
    day = ordered_on + dt.timedelta(days=rng.randint(2, 14))
    return day, rng.choices(_REASONS, _WEIGHTS)[0]


def refund_rows(seed: int, orders: list[dict[str, Any]], tickets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The refunds rows of a world with these orders and tickets, numbered by date."""
    rng = random.Random(f"cjsim/{seed}/refunds")
    found: list[tuple[dt.date, str, str | None, int, str | None]] = []
    paid: dict[str, list[tuple[dt.date, str, int]]] = {}
    for o in orders:  # orders are appended day by day, so each customer's list is in date order
        if o["status"] == "refunded":
            day, reason = order_refund(rng, o["ordered_on"])
            found.append((day, o["customer_id"], o["order_id"], o["amount_cents"], reason))
        elif o["status"] == "paid":
            paid.setdefault(o["customer_id"], []).append((o["ordered_on"], o["order_id"], o["amount_cents"]))
    for t in tickets:
        reason = _TICKET_REASON.get(t["category"])
        if reason is None or rng.random() >= TICKET_REFUND_SHARE:
            continue
        history = paid.get(t["customer_id"], [])
        k = bisect.bisect_right(history, (t["created_at"].date(), "\uffff", 0))
        if k == 0:
            continue
        _, order_id, amount = history[k - 1]
        day = t["created_at"].date() + dt.timedelta(days=rng.randint(1, 3))
        found.append((day, t["customer_id"], order_id, max(1, amount // 2), reason))
    found.sort(key=lambda r: (r[0], r[1], r[2] or ""))
    return [
        {
            "refund_id": f"R{k:07d}",
            "order_id": order_id,
            "customer_id": customer_id,
            "refunded_on": day,
            "amount_cents": amount,
            "reason": reason,
        }
        for k, (day, customer_id, order_id, amount, reason) in enumerate(found, start=1)
    ]
