"""A generated world in a database that follows the interventions applied to it, day by day.

The orchestrator observes a world it keeps changing: each day's interventions change the future
rows of the customers they reach. Reloading the whole world for every change would cost a load per
day; instead :class:`TreatedWorldDatabase` loads the untreated world once and, when a customer
gets an intervention, replaces only that customer's treated rows (:func:`~app.world.response.treat_customer`):
the orders, refunds and signals the plan adds, the skipped-box signals it removes, the
subscription's cancellation and the customer's ``customer_order_days``. Customers never affect each
other, so the database then holds exactly the world :func:`~app.world.response.respond` would
build with every intervention so far (``tests/test_orchestrator.py`` compares the two).

The database serves the journey, health and forecast reads, which use the base tables and
``customer_order_days``. The daily summary tables (``order_daily`` and the like) are left as
loaded: they describe the untreated world.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import count
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from app.health.inputs import subscription_facts
from app.storage.bulk import bulk_insert
from app.storage.loader import create_schema, insert_rows, memory_engine
from app.storage.schema import customer_order_days, customer_signals, orders, refunds, subscriptions
from app.storage.summaries import DailySummaries
from app.world.effects import InterventionEffects, load_intervention_effects
from app.world.response import Intervention, TreatedCustomer, skipped_boxes, treat_customer
from app.world.world import World

__all__ = ["TreatedWorldDatabase"]


class TreatedWorldDatabase:
    """An in-memory SQLite database of ``world`` (untreated, generated) plus the interventions applied.

    Args:
        world: the untreated generated world.
        effects: the effect models (default: ``data/intervention_effects.yaml``).
    """

    def __init__(self, world: World, effects: InterventionEffects | None = None) -> None:
        self.world = world
        self.effects = effects or load_intervention_effects()
        self.engine: Engine = memory_engine()
        create_schema(self.engine)
        insert_rows(self.engine, world.tables)
        self.plans: dict[str, list[Intervention]] = defaultdict(list)
        """Every intervention applied so far, by customer."""
        self._added: dict[str, dict[str, list[str]]] = {}
        self._dropped: dict[str, set[str]] = {}
        self._ids = count(1)
        # per-customer indexes of the untreated rows and the days' hazard scales, built with the load:
        # a day that treats its first customers should not pay a pass over the whole world
        if world.fates is not None:
            world.fates.hazard_scale(world.fates.start.toordinal())
        subscribers = {s["customer_id"] for s in world.tables["subscriptions"]}
        self._skips = skipped_boxes(world, subscribers)
        self._base: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        for name in ("orders", "customer_signals", "subscriptions"):
            for r in world.tables[name]:
                self._base[r["customer_id"]][name].append(r)
        # every customer's subscriptions as the health inputs read them, kept in step with the
        # treatments: a day's health then reads none (gather_inputs_at takes them)
        with self.engine.connect() as conn:
            self.subscriptions = subscription_facts(conn)

    def apply(self, interventions: list[Intervention]) -> dict[str, TreatedCustomer]:
        """Apply new interventions (on top of those applied before); returns each reached customer's rows."""
        new: dict[str, list[Intervention]] = defaultdict(list)
        for iv in interventions:
            new[iv.customer_id].append(iv)
        if not new:
            return {}
        skips = self._skips
        out = {}
        with self.engine.begin() as conn:
            for cid in sorted(new):
                plan = self.plans[cid] + new[cid]
                treated = treat_customer(self.world, plan, self.effects, skips.get(cid, []))
                self._replace(conn, cid, treated)
                self.plans[cid] = plan
                out[cid] = treated
        return out

    def _replace(self, conn: Connection, cid: str, t: TreatedCustomer) -> None:
        """Swap the customer's previously treated rows for ``t``'s (untreated rows stay)."""
        base = self._base[cid]
        added = self._added.pop(cid, {})
        if added.get("refunds"):
            conn.execute(sa.delete(refunds).where(refunds.c.refund_id.in_(added["refunds"])))
        if added.get("orders"):
            conn.execute(sa.delete(orders).where(orders.c.order_id.in_(added["orders"])))
        if added.get("signals"):
            conn.execute(sa.delete(customer_signals).where(customer_signals.c.signal_id.in_(added["signals"])))
        restore = [s for s in base["customer_signals"] if s["signal_id"] in self._dropped.pop(cid, set())]
        bulk_insert(conn, customer_signals, restore)
        if t.dropped_signals:
            conn.execute(sa.delete(customer_signals).where(customer_signals.c.signal_id.in_(sorted(t.dropped_signals))))
            self._dropped[cid] = set(t.dropped_signals)
        for sub in base["subscriptions"]:
            values = {"cancelled_on": sub["cancelled_on"], "cancel_reason": sub["cancel_reason"]}
            if t.subscription is not None and sub["subscription_id"] == self.world.fates.subscriber(cid).subscription_id:  # type: ignore[union-attr]
                values.update(t.subscription)
            conn.execute(sa.update(subscriptions).where(subscriptions.c.subscription_id == sub["subscription_id"])
                         .values(**values))  # fmt: skip
        new_orders, ids = [], {}
        for o in t.orders:
            row = {**o, "order_id": f"OX{next(self._ids):09d}"}
            ids[id(o)] = row["order_id"]
            new_orders.append(row)
        new_refunds = [{"refund_id": f"RX{next(self._ids):09d}", "order_id": ids[id(r["order"])],
                        "customer_id": cid, "refunded_on": r["refunded_on"], "amount_cents": r["amount_cents"],
                        "reason": r["reason"]} for r in t.refunds]  # fmt: skip
        new_signals = [{"signal_id": f"SX{next(self._ids):09d}", **s} for s in t.signals]
        bulk_insert(conn, orders, new_orders)
        bulk_insert(conn, refunds, new_refunds)
        bulk_insert(conn, customer_signals, new_signals)
        self._added[cid] = {"orders": [o["order_id"] for o in new_orders],
                            "refunds": [r["refund_id"] for r in new_refunds],
                            "signals": [s["signal_id"] for s in new_signals]}  # fmt: skip
        self.subscriptions.update(subscription_facts(conn, [cid]))
        conn.execute(sa.delete(customer_order_days).where(customer_order_days.c.customer_id == cid))
        days = DailySummaries().add_rows({"orders": base["orders"] + new_orders}).order_day_rows()
        bulk_insert(conn, customer_order_days, days)
