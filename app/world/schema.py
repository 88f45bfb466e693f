"""The relational schema every provider reads (SQLAlchemy Core, portable SQLite/PostgreSQL).

Money is integer cents. Dates are ``DATE``; ticket times are ``TIMESTAMP`` without time zone
(the merchant's local time). Rows may describe events after a provider's ``as_of``: every view
query filters by ``as_of`` itself, so a world that already holds its near future (the
DataAgent's, for clock advances) answers exactly like a snapshot taken at ``as_of``.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "metadata",
    "merchants",
    "customers",
    "subscriptions",
    "orders",
    "support_tickets",
    "marketing_daily",
    "customer_signals",
    "timeline_events",
    "TABLES",
    "TABLE_NAMES",
]

metadata = MetaData()

merchants = Table(
    "merchants",
    metadata,
    Column("merchant_id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("business_name", String(200), nullable=False),
    Column("business_type", String(200), nullable=False),
)

customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(32), primary_key=True),
    Column("merchant_id", String(32), ForeignKey("merchants.merchant_id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False),
    Column("segment_hint", String(40), nullable=False),
    Column("created_on", Date, nullable=False),
    Column("country", String(2), nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("subscription_id", String(32), primary_key=True),
    Column("customer_id", String(32), ForeignKey("customers.customer_id"), nullable=False),
    Column("plan", String(60), nullable=False),
    Column("monthly_price_cents", Integer, nullable=False),
    Column("started_on", Date, nullable=False),
    Column("cancelled_on", Date, nullable=True),
    Column("cancel_reason", String(40), nullable=True),
    Index("ix_subscriptions_started_on", "started_on"),
    Index("ix_subscriptions_cancelled_on", "cancelled_on"),
    Index("ix_subscriptions_customer_id", "customer_id"),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", String(32), primary_key=True),
    Column("customer_id", String(32), ForeignKey("customers.customer_id"), nullable=False),
    Column("subscription_id", String(32), ForeignKey("subscriptions.subscription_id"), nullable=True),
    Column("ordered_on", Date, nullable=False),
    Column("amount_cents", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Index("ix_orders_customer_id_ordered_on", "customer_id", "ordered_on"),
    Index("ix_orders_ordered_on", "ordered_on"),
)

support_tickets = Table(
    "support_tickets",
    metadata,
    Column("ticket_id", String(32), primary_key=True),
    Column("customer_id", String(32), ForeignKey("customers.customer_id"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("category", String(40), nullable=False),
    Column("priority", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("subject", Text, nullable=False),
    Column("sentiment", String(20), nullable=False),
    Column("first_response_at", DateTime, nullable=True),
    Column("resolved_at", DateTime, nullable=True),
    Column("csat_rating", Integer, nullable=True),
    Index("ix_support_tickets_created_at", "created_at"),
    Index("ix_support_tickets_customer_id", "customer_id"),
    Index("ix_support_tickets_resolved_at", "resolved_at"),
    Index("ix_support_tickets_first_response_at", "first_response_at"),
)

marketing_daily = Table(
    "marketing_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("spend_cents", Integer, nullable=False),
    Column("visitors", Integer, nullable=False),
    Column("email_deliverability", Float, nullable=False),
)

customer_signals = Table(
    "customer_signals",
    metadata,
    Column("signal_id", String(32), primary_key=True),
    Column("customer_id", String(32), ForeignKey("customers.customer_id"), nullable=False),
    Column("signal_type", String(40), nullable=False),
    Column("strength", Float, nullable=False),
    Column("detected_on", Date, nullable=False),
    Index("ix_customer_signals_detected_on", "detected_on"),
    Index("ix_customer_signals_customer_id", "customer_id"),
)

timeline_events = Table(
    "timeline_events",
    metadata,
    Column("event_id", String(32), primary_key=True),
    Column("day", Date, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("title", Text, nullable=False),
    Column("impact", String(20), nullable=False),
    Index("ix_timeline_events_day", "day"),
)

TABLES: tuple[Table, ...] = (
    merchants,
    customers,
    subscriptions,
    orders,
    support_tickets,
    marketing_daily,
    customer_signals,
    timeline_events,
)
"""Tables in dependency order (parents before children), the order to insert and export in."""

TABLE_NAMES: tuple[str, ...] = tuple(t.name for t in TABLES)
