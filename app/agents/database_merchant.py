"""Conversations about a real database's business: who the merchant is and what they ask come from the data.

A production database names its merchant (``merchants``: id, name, business name and type,
currency). :func:`database_persona` gives a catalog persona (which only lends its manner: style,
stress, approvals) the database's identity, so CJ greets the real merchant and speaks of the real
business; the persona's invented facts and products are dropped. :func:`data_scenario` replaces a
scenario's story with what the data shows: the opening and the questions name the metric that moved
most over the last 30 days (with its true direction) and what the data cannot tell, and each
question points at the view value that answers it, so evaluation can check CJ stated it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app.errors import InvalidArgumentError
from app.models import MerchantGoal, Persona, Scenario
from app.views import DataProvider, Trend

__all__ = ["database_persona", "data_scenario", "Mover", "biggest_mover", "check_merchant", "is_persona_world"]


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    return slug if slug and slug[0].isalpha() else f"m_{slug or 'merchant'}"


def check_merchant(requested: str | None, identity: dict[str, Any], personas: dict[str, str]) -> str | None:
    """The catalog persona to borrow a manner from, for ``--merchant requested`` on this database.

    None (no ``--merchant``) and the database's own merchant id use the default manner (returns
    None); a catalog persona (``personas``: id or display name -> id) lends its manner. Anything else
    is refused, naming the choices.
    """
    own = str(identity.get("merchant_id", ""))
    if requested in personas:  # also the database's own merchant when it is a persona's generated world
        return personas[requested]
    if requested is None or requested == own or _slug(requested) == _slug(own):
        return None
    raise InvalidArgumentError(
        f"--merchant {requested!r} is neither this database's merchant ({own!r}) nor a persona; "
        f"leave --merchant out to talk as {identity.get('name') or own}, or choose a persona: {', '.join(sorted(set(personas.values())))}"
    )


def is_persona_world(identity: dict[str, Any], persona: Persona) -> bool:
    """Whether the database holds ``persona``'s own generated world (``cjsim db load``): same id and
    business. Then the persona and the scenario given are the data's own, and stay as they are."""
    return identity.get("merchant_id") == persona.id and identity.get("business_name") == persona.business_name


def database_persona(identity: dict[str, Any], manner: Persona) -> Persona:
    """``manner`` (style, stress, approvals) speaking as the database's merchant."""
    business = str(identity.get("business_name") or identity.get("name") or identity.get("merchant_id"))
    kind = str(identity.get("business_type") or "online shop")
    return manner.model_copy(
        update={
            "id": _slug(str(identity.get("merchant_id") or business)),
            "display_name": str(identity.get("name") or business),
            "business_name": business,
            "business_type": kind,
            "description": f"{business}, {kind}, as recorded in its own database",
            "products": [kind],
            "known_facts": [],
        }
    )


@dataclass(frozen=True)
class Mover:
    """A headline metric of the last 30 days and how it moved."""

    view: str
    field: str
    label: str
    ask: str
    trend: Trend

    @property
    def size(self) -> float:
        return abs(self.trend.change_pct) if self.trend.change_pct is not None else 0.0


_CANDIDATES: tuple[tuple[str, str, str, str], ...] = (
    # view, field, label, question (its words reach the view through the rule CJ's intents)
    ("order_metrics", "net_revenue", "net revenue", "What's behind the change in net revenue?"),
    ("order_metrics", "orders", "orders", "Why did my orders move like that?"),
    ("order_metrics", "avg_order_value", "average order value", "What's going on with the average order value?"),
    ("order_metrics", "refund_rate", "the refund rate", "Why did refunds change?"),
    ("order_metrics", "repeat_purchase_rate", "repeat purchases", "How are repeat customers doing?"),
    ("financial_metrics", "mrr", "MRR", "What's behind the change in MRR?"),
    ("financial_metrics", "churn_rate", "churn", "Why did churn change?"),
    ("ticket_metrics", "csat", "customer satisfaction", "How is customer satisfaction holding up?"),
)


_GAPS = (("subscription", "financial_metrics", "mrr"), ("support", "ticket_metrics", "csat"))
"""What the merchant asks about when the data lacks it: kind, view and headline trend naming the reason."""


def biggest_mover(provider: DataProvider) -> Mover | None:
    """The available 30-day headline metric with the largest relative change (None if none changed)."""
    views = {name: provider.get_view(name, time_range="30d") for name in {c[0] for c in _CANDIDATES}}
    movers = [
        Mover(view, field, label, ask, trend)
        for view, field, label, ask in _CANDIDATES
        if isinstance(trend := getattr(views[view], field), Trend) and trend.current is not None and trend.change_pct
    ]
    return max(movers, key=lambda m: m.size) if movers else None


def data_scenario(provider: DataProvider, base: Scenario, persona: Persona) -> Scenario:
    """``base`` (its id and stress) with an opening, a description and goals taken from the data."""
    mover = biggest_mover(provider)
    orders = provider.get_view("order_metrics", time_range="30d")
    money_field = "gross_revenue" if orders.missing("net_revenue") else "net_revenue"
    goals: list[MerchantGoal] = []
    if mover is not None:
        goals.append(MerchantGoal(id="biggest_change", ask=mover.ask, metric=f"{mover.view}.{mover.field}.current",
                                  args={"time_range": "30d"}))  # fmt: skip
    if mover is not None and mover.trend.direction != "flat":
        opening = (
            f"Looking at the last 30 days, {mover.label} went {mover.trend.direction} more than anything else. "
            "What's behind that?"
        )
    else:  # nothing moved beyond the flat band (or nothing can be compared)
        opening = "The last 30 days look steady to me. Is anything moving underneath?"
    if not orders.missing(money_field) and (mover is None or mover.field != money_field):
        word = "net " if money_field == "net_revenue" else ""
        goals.append(MerchantGoal(id="revenue", ask=f"How much {word}revenue did the orders bring in?",
                                  metric=f"order_metrics.{money_field}.current", args={"time_range": "30d"}))  # fmt: skip
    if not orders.missing("retention"):
        goals.append(MerchantGoal(id="returning", ask="Are my customers buying again, or have they gone quiet?",
                                  metric="order_metrics.retention.active", args={"time_range": "30d"}))  # fmt: skip
    missing: set[str] = set()
    for kind, view, field in _GAPS:  # one question per kind, answered by the view naming the gap's reason
        trend = provider.get_view(view, time_range="30d").missing(field)
        if trend:
            missing.add(trend)
            goals.append(MerchantGoal(id=f"{kind}_data", ask=f"Can you see my {kind} numbers too?",
                                      metric=f"{view}.{field}.unavailable"))  # fmt: skip  # any window names the gap
    if not goals:
        goals.append(MerchantGoal(id="overview", ask="What should I look at first?"))
    gaps = f" The data holds {'; '.join(sorted(missing))}." if missing else ""
    return base.model_copy(
        update={
            "display_name": f"{persona.business_name}: its own data",
            "description": f"{persona.business_name}'s database as of {provider.default_as_of()}.{gaps}",
            "signature": "What the database shows; nothing is scripted.",
            "as_of": provider.default_as_of(),
            "timeline": [],
            "expected": [],
            "merchant_goals": goals,
            "opening_line": opening,
        }
    )
