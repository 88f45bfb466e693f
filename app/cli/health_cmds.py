"""``cjsim health`` and ``cjsim alerts``: customer health, its alerts and the feedback on them.

``health show`` / ``health overview`` / ``alerts list`` answer views; ``alerts ack`` and ``alerts
feedback`` run the audited actions (writing to ``--ops-url``, else a generated world's embedded
store, gone when the command ends); ``alerts summary`` reads the feedback stored at ``--ops-url``;
``health accuracy`` measures alerts against a generated world's own future. Without ``--db-url``
the data is the generated world of ``--scenario/--merchant/--seed``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from app.cli.common import MerchantOpt, ScenarioOpt, SeedOpt, console
from app.cli.ops_cmds import DateOpt, JsonOpt, run_date, show
from app.cli.source import Source, with_source
from app.errors import InvalidArgumentError
from app.formatting import rate_pct
from app.views import DataProvider

__all__ = ["health_app", "alerts_app"]

health_app = typer.Typer(no_args_is_help=True, help="Customer health at a date: one customer, the overview, accuracy.")
alerts_app = typer.Typer(no_args_is_help=True, help="Health alerts: list, acknowledge, feedback and its summary.")

AlertIdArg = Annotated[str, typer.Argument(help="The alert id, HA-<yyyymmdd>-<customer id>-<type> (see `alerts list`).")]


def _args(provider: DataProvider, date: str | None, **more: Any) -> dict[str, Any]:
    day = run_date(provider, date)
    return {**({"date": day.isoformat()} if day else {}), **{k: v for k, v in more.items() if v not in (None, [])}}


def _view(provider: DataProvider, name: str, args: dict[str, Any], as_json: bool) -> None:
    result = provider.get_view(name, **args)
    show(provider, name, result.to_text(), result.to_json(), as_json)


def _act(provider: DataProvider, tool: str, args: dict[str, Any], as_json: bool) -> None:
    from app.tools import call_tool

    text, artifact = call_tool(provider, tool, args, actor="cli")
    show(provider, f"{tool} - audit #{artifact['audit_id']}", text, artifact, as_json)


@health_app.command("show")
@with_source()
def show_cmd(
    source: Source,
    customer_id: Annotated[str | None, typer.Argument(help="The customer (default: the riskiest).")] = None,
    date: DateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One customer's health: components, overall score, risk, evidence and alert."""
    provider = source.open()
    _view(provider, "customer_health", _args(provider, date, customer_id=customer_id), as_json)


@health_app.command("overview")
@with_source()
def overview_cmd(
    source: Source,
    date: DateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Health across the customers: distribution, components, alerts, worst, movement, monitoring."""
    provider = source.open()
    _view(provider, "health_overview", _args(provider, date), as_json)


@health_app.command("accuracy")
def accuracy_cmd(
    date: DateOpt = None,
    scenario: ScenarioOpt = "churn_spike",
    merchant: MerchantOpt = "sarah_chen",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Precision, recall and lead time of a generated world's alerts against its own future."""
    from app.agents.data_agent import DataAgent
    from app.cli.options import parse_date
    from app.health.truth import measure_world

    agent = DataAgent.create(scenario, merchant, seed=seed)
    report = measure_world(agent, parse_date(date, "--date"))
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), indent=2))
    else:
        typer.echo(report.to_text())


@alerts_app.command("list")
@with_source()
def list_cmd(
    source: Source,
    severity: Annotated[list[str] | None, typer.Option("--severity", help="critical, high, medium or low (repeat).")] = None,
    alert_type: Annotated[list[str] | None, typer.Option("--type", help="churn_risk, usage_decline or "
                                                         "upsell_opportunity (repeat).")] = None,
    status: Annotated[str | None, typer.Option("--status", help="open, acknowledged, in_progress or resolved.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many (1-500).")] = 20,
    date: DateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The date's alerts, riskiest first, with risk factors, suggested actions and status."""
    provider = source.open()
    args = _args(provider, date, severity=severity, alert_type=alert_type, status=status, limit=limit)
    _view(provider, "alerts", args, as_json)


@alerts_app.command("ack")
@with_source()
def ack_cmd(
    source: Source,
    alert_id: AlertIdArg,
    status: Annotated[str, typer.Option("--status", help="acknowledged, in_progress or resolved.")] = "acknowledged",
    assignee: Annotated[str | None, typer.Option("--assignee", help="Who handles it.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Move an alert forward (open -> acknowledged -> in_progress -> resolved), optionally assigning it."""
    provider = source.open()
    _act(provider, "acknowledge_alert", {"alert_id": alert_id, "status": status, "assignee": assignee}, as_json)


@alerts_app.command("feedback")
@with_source()
def feedback_cmd(
    source: Source,
    alert_id: AlertIdArg,
    accuracy: Annotated[str | None, typer.Option("--accuracy", help="accurate, somewhat_accurate or inaccurate.")] = None,
    relevance: Annotated[str | None, typer.Option("--relevance", help="very_relevant, relevant or not_relevant.")] = None,
    effectiveness: Annotated[str | None, typer.Option("--effectiveness", help="very_effective, effective or "
                                                      "not_effective.")] = None,
    priority: Annotated[int | None, typer.Option("--priority", help="1 (lowest) to 5 (highest).")] = None,
    comment: Annotated[str | None, typer.Option("--comment", help="Free text.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record feedback on an alert (at least one of --accuracy, --relevance, --effectiveness, --priority)."""
    if all(v is None for v in (accuracy, relevance, effectiveness, priority)):
        raise InvalidArgumentError("give at least one of --accuracy, --relevance, --effectiveness or --priority")
    provider = source.open()
    args = {"alert_id": alert_id, "alert_accuracy": accuracy, "alert_relevance": relevance,
            "action_effectiveness": effectiveness, "priority_rating": priority, "comment": comment}  # fmt: skip
    _act(provider, "record_alert_feedback", args, as_json)


@alerts_app.command("summary")
def summary_cmd(
    ops_url: Annotated[str, typer.Option("--ops-url", help="The operations store holding the feedback.")],
    as_json: JsonOpt = False,
) -> None:
    """Feedback per alert type and severity: reported precision, relevant and effective shares, priority."""
    from app.health.feedback import feedback_summary
    from app.storage.ops import OpsStore

    rows = OpsStore.from_url(ops_url).read(feedback_summary)
    if as_json:
        typer.echo(json.dumps([r.model_dump() for r in rows], indent=2))
        return
    if not rows:
        console.print("No feedback recorded yet.")
    for r in rows:
        console.print(f"{r.alert_type} {r.severity}: {r.alerts_with_feedback} with feedback, precision "
                      f"{rate_pct(r.precision)} ({r.rated_accuracy} rated), relevant {rate_pct(r.relevant_share)}, effective "
                      f"{rate_pct(r.effective_share)}, mean priority {r.mean_priority or 'n/a'}")  # fmt: skip
