"""The relational schema every provider reads (SQLAlchemy Core, portable SQLite/PostgreSQL).

Money is integer cents (minor units of the merchant's currency, `merchants.currency`). Dates are ``DATE``; ticket times are ``TIMESTAMP`` without time zone
(the merchant's local time). Rows may describe events after a provider's ``as_of``: every view
query filters by ``as_of`` itself, so a world that already holds its near future (the
DataAgent's, for clock advances) answers exactly like a snapshot taken at ``as_of``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
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
    "refunds",
    "support_tickets",
    "marketing_daily",
    "customer_signals",
    "timeline_events",
    "TABLES",
    "TABLE_NAMES",
    "subscription_daily",
    "order_daily",
    "CHARGED_STATUSES",
    "order_customer_daily",
    "ORDER_SUMMARY_TABLES",
    "customer_order_days",
    "ORDER_DAY_TABLES",
    "ticket_daily",
    "ticket_search",
    "customer_facts",
    "segment_facts",
    "segment_signal_facts",
    "DAILY_SUMMARY_TABLES",
    "FACT_TABLES",
    "SUMMARY_TABLES",
]

metadata = MetaData()

merchants = Table(
    "merchants",
    metadata,
    Column("merchant_id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("business_name", String(200), nullable=False),
    Column("business_type", String(200), nullable=False),
    Column("currency", String(3), nullable=False, default="USD", server_default="USD", doc="ISO 4217 code of every amount"),
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
    Index("ix_subscriptions_started_on", "started_on", "cancelled_on"),
    Index("ix_subscriptions_cancelled_on", "cancelled_on", "cancel_reason"),
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
    Index("ix_orders_status_ordered_on", "status", "ordered_on"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("refund_id", String(32), primary_key=True),
    Column("order_id", String(32), ForeignKey("orders.order_id"), nullable=True, doc="null when the source does not say"),
    Column("customer_id", String(32), ForeignKey("customers.customer_id"), nullable=False),
    Column("refunded_on", Date, nullable=False),
    Column("amount_cents", Integer, nullable=False, doc="positive: the money returned"),
    Column("reason", String(60), nullable=True),
    Index("ix_refunds_refunded_on", "refunded_on"),
    Index("ix_refunds_customer_id", "customer_id"),
)
"""Money returned to customers, as its own records (an order keeps its original amount)."""

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
    refunds,
    support_tickets,
    marketing_daily,
    customer_signals,
    timeline_events,
)
"""Tables in dependency order (parents before children), the order to insert and export in."""

TABLE_NAMES: tuple[str, ...] = tuple(t.name for t in TABLES)


# --------------------------------------------------------------------------- summary tables
#
# Derived from the base tables above and recomputed by a refresh (``app.storage.summaries`` for the
# daily tables, ``app.storage.customer_facts`` for the customer facts). Views read them instead
# of scanning all history; they never hold anything the base tables do not imply.

subscription_daily = Table(
    "subscription_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("plan", String(60), primary_key=True),
    Column("started", Integer, nullable=False, doc="subscriptions with started_on = day"),
    Column("started_mrr_cents", BigInteger, nullable=False),
    Column("ended", Integer, nullable=False, doc="subscriptions no longer active from day on"),
    Column("ended_mrr_cents", BigInteger, nullable=False),
    Column("cancelled", Integer, nullable=False, doc="subscriptions with cancelled_on = day"),
    Column("cancelled_mrr_cents", BigInteger, nullable=False),
)
"""Per day and plan: starts, ends and cancellations with their monthly price.

Active at ``d`` = sum of ``started - ended`` over days ``<= d``: a subscription ends on
``max(started_on, cancelled_on)``, so one cancelled before it started is never active.
"""

order_daily = Table(
    "order_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("status", String(20), primary_key=True),
    Column("orders", Integer, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
)
"""Per day and order status: number of orders and their amount."""

CHARGED_STATUSES = ("paid", "refunded")
"""Order statuses whose amount was charged (a refund is a record of its own)."""

order_customer_daily = Table(
    "order_customer_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("first_orders", Integer, nullable=False, doc="customers whose first charged order is on day"),
    Column("second_orders", Integer, nullable=False, doc="customers whose second charged order is on day"),
)
"""Per day: customers reaching their first and their second charged order. Customers with an order
by ``d`` (and repeat customers) are running sums over days ``<= d``."""

customer_order_days = Table(
    "customer_order_days",
    metadata,
    Column("customer_id", String(32), primary_key=True),
    Column("day", Date, primary_key=True, doc="a day with at least one charged order of the customer"),
    Column("next_day", Date, nullable=False, doc="the customer's next day with a charged order (9999-12-31: none yet)"),
    Column("first_day", Date, nullable=False, doc="the customer's first day with a charged order"),
    Column("orders_to_date", Integer, nullable=False, doc="charged orders on days <= day"),
    Column("amount_to_date", BigInteger, nullable=False, doc="their amount, minor units"),
    Column("day_number", Integer, nullable=False, doc="days with a charged order <= day (1 on the first)"),
    Column("median_gap_days", Float, nullable=True, doc="median gap between those days (null on the first)"),
    # every column, led by next_day: the rows in force at a date are one index range, read without the table
    Index("ix_customer_order_days_in_force", "next_day", "day", "customer_id", "first_day", "orders_to_date",
          "amount_to_date", "day_number", "median_gap_days"),
)
"""Per customer and day with a charged order: running totals up to that day (schema version 10).

A customer's row *in force* at ``d`` is the one with ``day <= d < next_day`` (``next_day`` is
9999-12-31 on the latest): it holds everything about the orders on or before ``d`` (count, amount,
first and last day, distinct days, median gap), so the orders-based retention facts at any date read
one row per customer (one range of the ``next_day`` index), and a window (d - n, d] is the
difference with the row in force at d - n.
"""

ticket_daily = Table(
    "ticket_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("category", String(40), primary_key=True),
    Column("priority", String(20), primary_key=True),
    Column("sentiment", String(20), primary_key=True),
    Column("created", Integer, nullable=False, doc="tickets created on day"),
    Column("closed", Integer, nullable=False, doc="tickets no longer open from the end of day on"),
    Column("first_responses", Integer, nullable=False, doc="first responses on day"),
    Column("first_response_us", BigInteger, nullable=False, doc="sum of created -> first response, microseconds"),
    Column("resolved", Integer, nullable=False, doc="tickets resolved on day"),
    Column("resolution_us", BigInteger, nullable=False, doc="sum of created -> resolved, microseconds"),
    Column("csat_count", Integer, nullable=False, doc="rated tickets resolved on day"),
    Column("csat_sum", Integer, nullable=False),
)
"""Per day, category, priority and sentiment: ticket events of that day (by the event's own date).

Open at the end of ``d`` = sum of ``created - closed`` over days ``<= d``; a ticket closes on the
later of its creation and resolution dates.
"""

ticket_search = Table(
    "ticket_search",
    metadata,
    Column("ticket_id", String(32), primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Column("text", Text, nullable=False, doc="lower-cased subject, a newline, lower-cased category"),
    Index("ix_ticket_search_created_at", "created_at", "ticket_id"),
)
"""Searchable text of every ticket, lower-cased once in Python so every database matches it
with a plain ``LIKE`` (same case folding everywhere, and much cheaper than ``ILIKE``)."""

customer_facts = Table(
    "customer_facts",
    metadata,
    Column("as_of", Date, primary_key=True),
    Column("customer_id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_on", Date, nullable=False),
    Column("status", String(20), nullable=False),
    Column("plan", String(60), nullable=True),
    Column("mrr_cents", BigInteger, nullable=False),
    Column("started_on", Date, nullable=True),
    Column("last_started_on", Date, nullable=True),
    Column("cancelled_on", Date, nullable=True),
    Column("cancel_reason", String(40), nullable=True),
    Column("ltv_cents", BigInteger, nullable=False),
    Column("risk", Float, nullable=False),
    Column("high_value", Boolean, nullable=False),
    Column("at_risk", Boolean, nullable=False),
    Column("is_new", Boolean, nullable=False),
    Column("churned", Boolean, nullable=False),
    Column("rank_ltv", Integer, nullable=False),
    Column("rank_risk", Integer, nullable=False),
    Column("rank_risk_ltv", Integer, nullable=False),
    Column("rank_tenure", Integer, nullable=False),
    Column("rank_recent", Integer, nullable=False),
    Column("rank_name", Integer, nullable=False),
    Column("rank_cancelled", Integer, nullable=False),
    # last charged order on or before as_of: the order retention filters read it (migration 8)
    Column("last_order_on", Date, nullable=True),
    Index("ix_customer_facts_rank_ltv", "as_of", "rank_ltv"),
    Index("ix_customer_facts_rank_risk", "as_of", "rank_risk"),
    Index("ix_customer_facts_rank_risk_ltv", "as_of", "rank_risk_ltv"),
    Index("ix_customer_facts_rank_tenure", "as_of", "rank_tenure"),
    Index("ix_customer_facts_rank_recent", "as_of", "rank_recent"),
    Index("ix_customer_facts_rank_name", "as_of", "rank_name"),
    Index("ix_customer_facts_rank_cancelled", "as_of", "rank_cancelled"),
    Index("ix_customer_facts_last_order", "as_of", "last_order_on"),
)
"""Every customer as known at ``as_of`` (status, value, risk, segment flags) with its position in
each list order, so filtered and sorted lists are index walks."""

segment_facts = Table(
    "segment_facts",
    metadata,
    Column("as_of", Date, primary_key=True),
    Column("segment", String(20), primary_key=True, doc="a segment, or 'all' / 'active'"),
    Column("size", Integer, nullable=False),
    Column("ltv_cents", BigInteger, nullable=False),
    Column("mrr_cents", BigInteger, nullable=False),
    Column("risk_sum", Float, nullable=False),
    Column("tenure_days", BigInteger, nullable=False),
)
"""Per ``as_of`` and segment: size and sums behind the segment view's averages."""

segment_signal_facts = Table(
    "segment_signal_facts",
    metadata,
    Column("as_of", Date, primary_key=True),
    Column("segment", String(20), primary_key=True),
    Column("signal_type", String(40), primary_key=True),
    Column("count", Integer, nullable=False),
)
"""Per ``as_of`` and segment: how many risk-window signals of each type its members have."""

ORDER_SUMMARY_TABLES: tuple[Table, ...] = (order_customer_daily,)
"""The customer order milestones (schema version 7)."""

ORDER_DAY_TABLES: tuple[Table, ...] = (customer_order_days,)
"""The customers' order days with running totals (schema version 10)."""

DAILY_SUMMARY_TABLES: tuple[Table, ...] = (
    subscription_daily, order_daily, ticket_daily, ticket_search, *ORDER_SUMMARY_TABLES, *ORDER_DAY_TABLES
)
"""Summaries independent of ``as_of`` (per-day aggregates and the ticket search text), rebuilt
from all base rows."""

FACT_TABLES: tuple[Table, ...] = (customer_facts, segment_facts, segment_signal_facts)
"""Customer facts materialised for chosen ``as_of`` dates."""

SUMMARY_TABLES: tuple[Table, ...] = DAILY_SUMMARY_TABLES + FACT_TABLES
