"""A generated world in the universal core, as retail: customers become entities, orders and refunds outcomes.

Each customer of the world's snapshot at its ``as_of`` (what a database exported that day would
hold) becomes a ``retail`` entity: lifetime value is paid orders less refunds, the lifecycle stage
follows days since the last paid order (under 30 active, under 90 at risk, else churned; new in the
first 30 days), attributes carry order counts and the subscription. Every paid order becomes a
``purchase`` outcome and every refund a ``return_initiated`` one. Customers, subscriptions, orders
and refunds each get lineage rows (source system ``cjsim_world``); the segments' sizes are refreshed.

Example:
    >>> from app.storage.ops import OpsStore
    >>> result = load_world_into_core(OpsStore.in_memory(), "churn_spike", "sarah_chen", seed=0)
    >>> result.entities > 0 and result.outcomes > result.entities
    True
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from app.core.records import EntityIn, OutcomeIn, SourceRef
from app.core.segments import refresh_segments
from app.core.writer import CoreWriter
from app.models import MerchantContext
from app.scenarios import get_persona, get_scenario
from app.storage.ops import OpsStore
from app.world.generator import generate_world
from app.world.world import Rows, WorldSpec

__all__ = ["WorldLoadResult", "SOURCE_SYSTEM", "world_records", "load_world_into_core"]

SOURCE_SYSTEM = "cjsim_world"


@dataclass(frozen=True)
class WorldLoadResult:
    """What loading a world wrote: its import run, entities, outcomes and segments."""

    run_id: int
    as_of: dt.date
    entities: int
    outcomes: int
    segments: int


def _stage(as_of: dt.date, created: dt.date, last: dt.date | None) -> str:
    if (as_of - created).days < 30:
        return "new"
    days = (as_of - (last or created)).days
    return "active" if days < 30 else "at_risk" if days < 90 else "churned"


def world_records(
    tables: Rows, as_of: dt.date
) -> list[tuple[EntityIn, list[SourceRef], list[tuple[OutcomeIn, SourceRef]]]]:
    """Each customer of ``tables`` as (entity, its source records, its outcomes with their source record)."""
    currency = tables["merchants"][0].get("currency") or "USD"
    ref = lambda table, rid: SourceRef(system=SOURCE_SYSTEM, table=table, record_id=str(rid))
    orders: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for o in tables.get("orders", []):
        orders[o["customer_id"]].append(o)
    refunds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in tables.get("refunds", []):
        refunds[r["customer_id"]].append(r)
    subs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in tables.get("subscriptions", []):
        subs[s["customer_id"]].append(s)
    out = []
    for c in tables["customers"]:
        cid = c["customer_id"]
        paid = [o for o in orders[cid] if o["status"] == "paid"]
        last = max((o["ordered_on"] for o in paid), default=None)
        value = sum(o["amount_cents"] for o in paid) - sum(r["amount_cents"] for r in refunds[cid])
        mine = sorted(subs[cid], key=lambda s: s["started_on"])
        current = mine[-1] if mine else None
        attributes: dict[str, Any] = {"customer_type": "b2c", "total_orders": len(paid),
                                      "subscription_status": "none" if current is None else
                                      "cancelled" if current["cancelled_on"] is not None else "active"}
        if paid:
            attributes["avg_order_value"] = round(sum(o["amount_cents"] for o in paid) / len(paid) / 100, 2)
            attributes["days_since_last_order"] = (as_of - last).days if last else None
        if current is not None:
            attributes["subscription_plan"] = current["plan"]
        stage = "churned" if current is not None and current["cancelled_on"] is not None and not any(
            s["cancelled_on"] is None for s in mine) else _stage(as_of, c["created_on"], last)
        entity = EntityIn(
            entity_type="individual", external_id=cid, segment_id=c["segment_hint"] or None,
            cohort_id=c["created_on"].strftime("%Y-%m"), lifecycle_stage=stage,
            tenure_days=max(0, (as_of - c["created_on"]).days), first_interaction_date=c["created_on"],
            last_interaction_date=max(last, c["created_on"]) if last else c["created_on"],
            lifetime_value_cents=value, currency=currency, demographics={"country": c["country"]} if c["country"] else None,
            attributes={k: v for k, v in attributes.items() if v is not None}, is_active=stage != "churned",
            data_quality_score=1.0,
        )
        sources = [ref("customers", cid)] + [ref("subscriptions", s["subscription_id"]) for s in mine]
        outcomes = [(OutcomeIn(outcome_type="purchase", outcome_at=dt.datetime.combine(o["ordered_on"], dt.time()),
                               value_cents=o["amount_cents"]), ref("orders", o["order_id"])) for o in paid]
        outcomes += [(OutcomeIn(outcome_type="return_initiated", outcome_at=dt.datetime.combine(r["refunded_on"], dt.time()),
                                value_cents=r["amount_cents"]), ref("refunds", r["refund_id"])) for r in refunds[cid]]
        out.append((entity, sources, outcomes))
    return out


def load_world_into_core(
    store: OpsStore, scenario: str, merchant: str, *, seed: int = 0, context: MerchantContext | None = None,
    now: dt.datetime | None = None,
) -> WorldLoadResult:
    """Generate the world of ``scenario``/``merchant``/``seed`` and write it into the store's core as retail.

    Raises:
        UnknownNameError: an unknown scenario or merchant (the message lists the valid ones).
    """
    spec = WorldSpec(get_scenario(scenario), get_persona(merchant), context or MerchantContext(), seed=seed)
    world = generate_world(spec)
    tables = world.snapshot()
    records = world_records(tables, world.as_of)
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with store.transaction() as conn:
        writer = CoreWriter.start(conn, "retail", template="world", source_system=SOURCE_SYSTEM,
                                  source=f"{spec.scenario.id}/{spec.persona.id}/seed {seed}", as_of=world.as_of, now=now)
        ids = writer.write_entities([(e, s) for e, s, _ in records])
        sources = [ref for _, _, outs in records for _, ref in outs]
        writer.forget_outcomes(sources)
        outcome_ids = writer.write_outcomes(
            [(i, o, ref) for i, (_, _, outs) in zip(ids, records, strict=True) for o, ref in outs]
        )
        read = len(tables["customers"]) + len(tables.get("subscriptions", [])) + len(sources)
        writer.finish(read=read, rejected=0)
        segments = refresh_segments(conn, "retail", at=world.as_of, now=now)
    return WorldLoadResult(writer.run_id, world.as_of, len(ids), len(outcome_ids), segments)
