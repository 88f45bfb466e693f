"""The manager-ready brief of a run date, in ``slack``, ``email`` or ``markdown``.

Content: the alert severity and its metrics, the status distribution, the AT_RISK risk breakdown,
the P1/P2/P3 counts with each tier's top customers, and links: the audience exports of that date
(or how to make them) and the audit row of the queue build. The brief writes nothing; when no queue
was built for the date, the counts and top customers are computed in memory with the same rules and
the brief says the queue is not written yet.

Example:
    >>> from app.providers.data_agent import DataAgent
    >>> agent = DataAgent.create("churn_spike", "sarah_chen", seed=1)
    >>> day = agent.default_as_of()
    >>> data = agent.read_source(lambda conn: brief_data(conn, None, day, "USD"))
    >>> render_brief(data, "markdown").startswith("# Retention brief")
    True
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from app.formatting import count, money, pct, to_major
from app.retention.decision import AlertDecision, OperationalContext, alert_decision, operational_context
from app.retention.export import export_path
from app.retention.facts import RetentionFacts, retention_facts
from app.retention.queue import PriorityEntry, QueueCounts, priority_queue, queue_counts, read_queue
from app.retention.settings import TIERS, RetentionOpsSettings, Tier, load_settings

__all__ = ["BriefFormat", "FORMATS", "TopCustomer", "BriefData", "brief_data", "render_brief"]

BriefFormat = Literal["slack", "email", "markdown"]
FORMATS: tuple[BriefFormat, ...] = ("slack", "email", "markdown")

_TIER_NAMES = {"P1": "Prevention", "P2": "Intervention", "P3": "Win-back"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TopCustomer(_Model):
    """One of a tier's first customers in queue order (revenue in major units)."""

    customer_id: str
    priority_score: float
    total_revenue: float
    days_since_last_order: int
    recommended_action: str


class BriefData(_Model):
    """Everything a brief states, before it is rendered in a format."""

    date: dt.date
    currency: str
    alert: AlertDecision
    context: OperationalContext
    queue: QueueCounts
    queue_written: bool = Field(description="whether customer_priority holds this date's queue")
    top: dict[Tier, list[TopCustomer]]
    exports: dict[Tier, str | None] = Field(description="tier -> CSV path when exported for this date")
    audit_id: int | None = Field(description="audit row of the queue build for this date, if any")


def brief_data(
    source: Connection,
    ops: Connection | None,
    day: dt.date,
    currency: str,
    *,
    audit_id: int | None = None,
    settings: RetentionOpsSettings | None = None,
    facts: RetentionFacts | None = None,
    alert: AlertDecision | None = None,
) -> BriefData:
    """Gather the brief's numbers: the alert decision and context from the source, the queue from the
    operations store when built for ``day`` (else computed in memory). ``facts`` and ``alert``, when
    given, are the date's already computed ones (read from the source otherwise)."""
    settings = settings or load_settings()
    if facts is None:
        facts = retention_facts(source, day, settings)
    if alert is None:
        alert = alert_decision(source, day, settings)
    built = queue_counts(ops, day) if ops is not None else None
    top: dict[Tier, list[TopCustomer]] = {}
    if built is not None and ops is not None:
        counts = built
        for tier in TIERS:
            rows = read_queue(ops, day, tier, settings.brief.top_customers) if settings.brief.top_customers else []
            top[tier] = [_stored_top(r, currency) for r in rows]
    else:
        entries = priority_queue(facts, currency, settings)
        counts = _counts(day, entries, facts.population)
        for tier in TIERS:
            first = [e for e in entries if e.tier == tier][: settings.brief.top_customers]
            top[tier] = [_top(e, currency) for e in first]
    exports: dict[Tier, str | None] = {}
    for tier in TIERS:
        path = export_path(settings.export.folder, day, tier)
        exports[tier] = path.as_posix() if path.exists() else None
    return BriefData(
        date=day, currency=currency, alert=alert, context=operational_context(facts),
        queue=counts, queue_written=built is not None, top=top, exports=exports, audit_id=audit_id,
    )  # fmt: skip


def _counts(day: dt.date, entries: list[PriorityEntry], population: int) -> QueueCounts:
    n = {t: sum(1 for e in entries if e.tier == t) for t in TIERS}
    return QueueCounts(
        run_date=day, p1_count=n["P1"], p2_count=n["P2"], p3_count=n["P3"], total=len(entries), population=population
    )


def _stored_top(r: dict[str, Any], currency: str) -> TopCustomer:
    return TopCustomer(
        customer_id=r["customer_id"], priority_score=float(r["priority_score"]),
        total_revenue=to_major(r["total_revenue_cents"], currency),
        days_since_last_order=r["days_since_last_order"], recommended_action=r["recommended_action"],
    )  # fmt: skip


def _top(e: PriorityEntry, currency: str) -> TopCustomer:
    return TopCustomer(
        customer_id=e.facts.customer_id, priority_score=e.score, total_revenue=to_major(e.facts.total_revenue, currency),
        days_since_last_order=e.facts.days_since_last_order, recommended_action=e.action,
    )  # fmt: skip


def _metrics(a: AlertDecision) -> list[str]:
    base = "n/a" if a.baseline_value is None else pct(a.baseline_value, 2)
    delta = "n/a" if a.delta_relative_pct is None else f"{a.delta_relative_pct:+.1f}%"
    current = "n/a" if a.current_value is None else pct(a.current_value, 2)
    return [
        f"AT_RISK share: {current} ({count(a.at_risk_count)} of {count(a.sample_size)} customers)",
        f"7-day baseline: {base}; relative change: {delta}",
        a.reason,
    ]


def _status_lines(d: BriefData) -> list[str]:
    total = d.context.total_customers

    def share(n: int) -> str:
        return pct(n / total * 100) if total else "n/a"

    return [f"{s}: {count(n)} ({share(n)})" for s, n in d.context.status_distribution.items()]


def _risk_lines(d: BriefData) -> list[str]:
    return [f"{level}: {count(n)}" for level, n in d.context.at_risk_by_risk_level.items()]


def _customer_line(c: TopCustomer, currency: str) -> str:
    return (
        f"{c.customer_id}: score {c.priority_score:.1f}, {money(c.total_revenue, currency)} revenue, "
        f"{c.days_since_last_order} days since last order; {c.recommended_action}"
    )


def _link_lines(d: BriefData) -> list[str]:
    lines = []
    for tier in TIERS:
        path = d.exports[tier]
        lines.append(
            f"{tier} export: {path}" if path else f"{tier} export: not exported yet (export_audience {d.date} {tier})"
        )
    if d.audit_id is not None:
        lines.append(f"Queue build: audit row #{d.audit_id}")
    elif not d.queue_written:
        lines.append("Queue: not written to customer_priority yet (run build_priority_queue for this date)")
    return lines


def render_brief(d: BriefData, fmt: BriefFormat) -> str:
    """The brief as Slack mrkdwn, a plain-text email (subject line first) or Markdown."""
    a = d.alert
    tiers = [(t, d.queue.tier_count(t)) for t in TIERS]
    if fmt == "slack":
        icon = {"CRITICAL": ":rotating_light:", "WARNING": ":warning:", "INFO": ":information_source:"}[a.severity]
        out = [f"{icon} *Retention brief {d.date}: {a.severity}*", *(f"• {m}" for m in _metrics(a)), ""]
        out += ["*Status distribution*", *(f"• {line}" for line in _status_lines(d)), ""]
        out += ["*AT_RISK by churn risk*", *(f"• {line}" for line in _risk_lines(d)), ""]
        out.append("*Actions ready*")
        for tier, n in tiers:
            out.append(f"• *{tier} {_TIER_NAMES[tier]}*: {count(n)} customers")
            out += [f"    ◦ {_customer_line(c, d.currency)}" for c in d.top[tier]]
        out += ["", "*Links*", *(f"• {line}" for line in _link_lines(d))]
        return "\n".join(out)
    if fmt == "email":
        counts = ", ".join(f"{t} {count(n)}" for t, n in tiers)
        out = [f"Subject: [{a.severity}] Retention brief {d.date}: {counts}", "", "Alert", *_metrics(a), ""]
        out += ["Status distribution", *(f"- {line}" for line in _status_lines(d)), ""]
        out += ["AT_RISK customers by churn risk", *(f"- {line}" for line in _risk_lines(d)), ""]
        out.append("Actions ready")
        for tier, n in tiers:
            out.append(f"- {tier} ({_TIER_NAMES[tier]}): {count(n)} customers")
            out += [f"    {_customer_line(c, d.currency)}" for c in d.top[tier]]
        out += ["", "Links", *(f"- {line}" for line in _link_lines(d))]
        return "\n".join(out)
    out = [f"# Retention brief {d.date}: {a.severity}", "", *(f"- {m}" for m in _metrics(a)), ""]
    out += ["## Status distribution", "", *(f"- {line}" for line in _status_lines(d)), ""]
    out += ["## AT_RISK by churn risk", "", *(f"- {line}" for line in _risk_lines(d)), ""]
    out += ["## Actions ready", ""]
    for tier, n in tiers:
        out.append(f"### {tier} {_TIER_NAMES[tier]}: {count(n)} customers")
        if d.top[tier]:
            out += ["", "| customer | score | revenue | days since last order | action |", "|---|---|---|---|---|"]
            out += [
                f"| {c.customer_id} | {c.priority_score:.1f} | {money(c.total_revenue, d.currency)} | "
                f"{c.days_since_last_order} | {c.recommended_action} |"
                for c in d.top[tier]
            ]
        out.append("")
    out += ["## Links", "", *(f"- {line}" for line in _link_lines(d))]
    return "\n".join(out)
