"""A synthetic orders-only shop: customers, orders and refunds, without subscriptions or tickets.

The shape of an online retailer's export (a gift shop selling to repeat and one-off buyers): each
customer's first order falls somewhere in the period, later orders follow at exponential gaps
(heavy buyers order often), order values are log-normal, and a share of orders is refunded in
part or in full, sometimes without the order or a reason on record. Used to test and measure the
order views at the size of a real export (``retail_rows(customers=4_300, orders=25_900)`` is the
size of the UCI Online Retail data set), deterministic for a seed.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import Any

__all__ = ["retail_rows", "RETAIL_START", "MERCHANT_ID"]

RETAIL_START = dt.date(2010, 12, 1)
MERCHANT_ID = "uk_gifts"
_REASONS = ("damaged", "wrong_item", "not_as_described", "changed_mind")


def retail_rows(
    *,
    customers: int = 60,
    orders: int = 400,
    days: int = 374,
    refund_share: float = 0.16,
    currency: str = "GBP",
    seed: int = 0,
    start: dt.date = RETAIL_START,
) -> dict[str, list[dict[str, Any]]]:
    """Rows of every base table for an orders-only shop (subscriptions, tickets, marketing empty).

    Exactly ``customers`` customers (each with at least one order) and ``orders`` paid orders over
    ``days`` days from ``start``; about ``refund_share`` of the orders get a refund.
    """
    if orders < customers:
        raise ValueError("every customer needs an order: orders must be at least customers")
    rng = random.Random(f"cjsim/retail/{seed}")
    last_day = start + dt.timedelta(days=days - 1)
    # Order counts: one each, the rest spread by heavy-tailed weights.
    weights = [rng.paretovariate(1.3) for _ in range(customers)]
    total_w = sum(weights)
    counts = [1] * customers
    extra = orders - customers
    acc = 0.0
    given = 0
    for i, w in enumerate(weights):  # error diffusion: the counts sum to exactly ``orders``
        acc += extra * w / total_w
        take = int(acc) - given if i < customers - 1 else extra - given
        counts[i] += take
        given += take
    cust_rows: list[dict[str, Any]] = []
    order_rows: list[dict[str, Any]] = []
    refund_rows: list[dict[str, Any]] = []
    for i, n in enumerate(counts):
        cid = f"{12346 + i}"
        first = start + dt.timedelta(days=rng.randrange(days))
        span = (last_day - first).days
        gaps = sorted(rng.randrange(span + 1) for _ in range(n - 1)) if span else [0] * (n - 1)
        cust_rows.append(
            {"customer_id": cid, "merchant_id": MERCHANT_ID, "name": f"Customer {cid}", "email": "",
             "segment_hint": "", "created_on": first, "country": "GB"}
        )  # fmt: skip
        for day_offset in [0, *gaps]:
            amount = max(50, int(math.exp(rng.gauss(math.log(30_00), 0.9))))
            order_rows.append(
                {"order_id": "", "customer_id": cid, "subscription_id": None,
                 "ordered_on": first + dt.timedelta(days=day_offset), "amount_cents": amount, "status": "paid"}
            )  # fmt: skip
    order_rows.sort(key=lambda o: (o["ordered_on"], o["customer_id"], o["amount_cents"]))
    for k, o in enumerate(order_rows, start=1):
        o["order_id"] = f"{536365 + k}"
        if rng.random() < refund_share:
            refunded_on = min(last_day, o["ordered_on"] + dt.timedelta(days=rng.randint(0, 20)))
            full = rng.random() < 0.5
            refund_rows.append(
                {
                    "refund_id": f"C{k}",
                    "order_id": o["order_id"] if rng.random() < 0.7 else None,
                    "customer_id": o["customer_id"],
                    "refunded_on": refunded_on,
                    "amount_cents": o["amount_cents"] if full else max(1, int(o["amount_cents"] * rng.uniform(0.1, 0.9))),
                    "reason": rng.choice(_REASONS) if rng.random() < 0.4 else None,
                }
            )
    merchant = {"merchant_id": MERCHANT_ID, "name": "Gift Shop Owner", "business_name": "UK Online Gift Retailer",
                "business_type": "online gift retail", "currency": currency}  # fmt: skip
    return {
        "merchants": [merchant],
        "customers": cust_rows,
        "subscriptions": [],
        "orders": order_rows,
        "refunds": refund_rows,
        "support_tickets": [],
        "marketing_daily": [],
        "customer_signals": [],
        "timeline_events": [],
    }
