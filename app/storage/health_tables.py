"""The tables customer health is materialised in (source-schema migration 11), defined beside the
other schema so migrations create them; ``app.health.store`` fills and reads them."""

from __future__ import annotations

from sqlalchemy import Column, Date, Index, Integer, MetaData, String, Table, Text

__all__ = ["health_metadata", "customer_health", "customer_health_runs", "HEALTH_TABLES", "HEALTH_COMPONENTS"]

HEALTH_COMPONENTS = ("usage", "engagement", "support", "financial", "relationship")
"""The components with a column each (``app.health.settings.COMPONENTS``, in the same order)."""

health_metadata = MetaData()

customer_health = Table(
    "customer_health",
    health_metadata,
    Column("as_of", Date, primary_key=True),
    Column("customer_id", String(32), primary_key=True),
    *(Column(f"{c}_bp", Integer, nullable=True, doc=f"{c} component x 10,000; null: unavailable") for c in HEALTH_COMPONENTS),
    Column("overall_bp", Integer, nullable=False),
    Column("confidence_bp", Integer, nullable=False),
    Column("risk_bp", Integer, nullable=False),
    Column("tenure_days", Integer, nullable=True),
    Column("alert_type", String(24), nullable=True, doc="churn_risk | usage_decline | upsell_opportunity"),
    Column("severity", String(10), nullable=True, doc="critical | high | medium | low"),
    Column("rank_risk", Integer, nullable=False, doc="0 = riskiest (risk descending, then id)"),
    Column("model_version", String(40), nullable=False),
    Column("detail", Text, nullable=False, doc="JSON: risk factors, opportunities, actions, urgency, score"),
    Index("ix_customer_health_rank", "as_of", "rank_risk"),
    Index("ix_customer_health_alert", "as_of", "severity", "alert_type", "rank_risk"),
    Index("ix_customer_health_type", "as_of", "alert_type", "rank_risk"),
)
"""Every scored customer's health per materialised date."""

customer_health_runs = Table(
    "customer_health_runs",
    health_metadata,
    Column("as_of", Date, primary_key=True),
    Column("model_version", String(40), nullable=False),
    Column("summary", Text, nullable=False, doc="JSON: size, sums and bins per component, alert counts, bin edges"),
)
"""One row per materialised date: which dates are stored, and the overview's numbers read in one row."""

HEALTH_TABLES: tuple[Table, ...] = (customer_health, customer_health_runs)
