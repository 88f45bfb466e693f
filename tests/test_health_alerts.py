"""Health alerts: the alerts view, the status and feedback actions (audited, idempotent, forward only),
the CLI's clear refusals, and the measurement of alerts against a world's future."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from app.agents.data_agent import DataAgent
from app.cli import app
from app.errors import ActionFailedError, InvalidArgumentError
from app.health.feedback import feedback_summary
from app.health.frame import rows_from
from app.health.score import score_all
from app.health.truth import leavers, measure, measure_world
from app.storage.loader import create_schema, insert_rows, memory_engine
from app.tools import call_tool
from tests.test_health import D, S, world

runner = CliRunner()


@pytest.fixture
def agent() -> DataAgent:
    return DataAgent.create("churn_spike", "sarah_chen", seed=1)  # its own: actions write to its store


def _critical(agent: DataAgent) -> str:
    found = agent.get_view("alerts", severity=["critical"], limit=1).alerts
    assert found, "churn_spike has critical alerts"
    return found[0].alert.alert_id


def test_alerts_view_filters_and_orders(agent: DataAgent) -> None:
    every = agent.get_view("alerts", limit=500)
    assert every.total == sum(every.by_severity.values())
    risks = [a.alert.score for a in every.alerts if a.alert.alert_type != "upsell_opportunity"]
    assert risks == sorted(risks, reverse=True)
    high = agent.get_view("alerts", severity=["high"], limit=500)
    assert high.total == every.by_severity["high"] and {a.alert.severity for a in high.alerts} == {"high"}
    for item in high.alerts:
        assert 0.6 < item.alert.score <= 0.8 and item.alert.suggested_actions and item.alert.status == "open"
    upsell = agent.get_view("alerts", alert_type=["upsell_opportunity"], limit=3)
    assert all(a.alert.severity == "low" and not a.risk_factors for a in upsell.alerts)


def test_regenerating_a_date_gives_the_same_ids(agent: DataAgent) -> None:
    first = [a.alert.alert_id for a in agent.get_view("alerts", limit=500).alerts]
    agent.clear_cache()
    assert [a.alert.alert_id for a in agent.get_view("alerts", limit=500).alerts] == first
    assert len(set(first)) == len(first)


def test_status_moves_forward_and_survives_regeneration(agent: DataAgent) -> None:
    aid = _critical(agent)
    _, out = call_tool(agent, "acknowledge_alert", {"alert_id": aid, "assignee": "Sam"}, actor="test")
    assert out["result"]["status"] == "acknowledged" and out["result"]["previous_status"] == "open"
    _, again = call_tool(agent, "acknowledge_alert", {"alert_id": aid, "assignee": "Sam"}, actor="test")
    assert again["status"] == "duplicate"  # same call, same day: runs once
    call_tool(agent, "acknowledge_alert", {"alert_id": aid, "status": "resolved"}, actor="test")
    with pytest.raises(ActionFailedError, match="forward only"):
        call_tool(agent, "acknowledge_alert", {"alert_id": aid, "status": "in_progress"}, actor="test")
    agent.clear_cache()
    listed = agent.get_view("alerts", status="resolved").alerts
    assert [(a.alert.alert_id, a.alert.status, a.alert.assignee) for a in listed] == [(aid, "resolved", "Sam")]
    assert aid not in {a.alert.alert_id for a in agent.get_view("alerts", status="open", limit=500).alerts}
    statuses = [r.status for r in agent.ops.audit(action="acknowledge_alert")]  # type: ignore[union-attr]
    assert statuses == ["succeeded", "duplicate", "succeeded", "failed"]


def test_feedback_round_trip_and_summary(agent: DataAgent) -> None:
    aid = _critical(agent)
    call_tool(agent, "record_alert_feedback", {"alert_id": aid, "alert_accuracy": "somewhat_accurate",
                                               "priority_rating": 4}, actor="test")  # fmt: skip
    _, out = call_tool(agent, "record_alert_feedback", {"alert_id": aid, "alert_relevance": "relevant"}, actor="test")
    assert out["result"]["replaced"] and out["result"]["alert_accuracy"] == "somewhat_accurate"
    summary = agent.ops.read(feedback_summary)  # type: ignore[union-attr]
    assert [(s.alert_type, s.severity, s.alerts_with_feedback, s.precision, s.relevant_share, s.mean_priority)
            for s in summary] == [("churn_risk", "critical", 1, 0.5, 1.0, 4.0)]  # fmt: skip
    overview = agent.get_view("health_overview")
    assert overview.feedback == summary and overview.monitoring.rated_alerts == 1
    assert overview.monitoring.retraining_due and "reported accuracy 50%" in overview.monitoring.reasons[0]


def test_feedback_needs_a_field_and_a_real_alert(agent: DataAgent) -> None:
    aid = _critical(agent)
    with pytest.raises(ActionFailedError, match="at least one feedback"):
        call_tool(agent, "record_alert_feedback", {"alert_id": aid, "comment": "hm"}, actor="test")
    ghost = aid.rsplit("-", 1)[0] + "-upsell_opportunity"
    with pytest.raises(ActionFailedError, match="no alert"):
        call_tool(agent, "record_alert_feedback", {"alert_id": ghost, "alert_accuracy": "accurate"}, actor="test")
    with pytest.raises(InvalidArgumentError, match="HA-<yyyymmdd>"):
        call_tool(agent, "acknowledge_alert", {"alert_id": "A-1"}, actor="test")


def test_customer_health_view(agent: DataAgent) -> None:
    riskiest = agent.get_view("customer_health")
    assert riskiest.alert is not None and riskiest.alert.severity == "critical"
    assert [c.name for c in riskiest.components] == ["usage", "engagement", "support", "financial", "relationship"]
    assert riskiest.risk == round(1 - riskiest.overall_score, 4) and riskiest.risk_factors
    with pytest.raises(Exception, match="no customer 'NOPE'"):
        agent.get_view("customer_health", customer_id="NOPE")


@pytest.mark.parametrize("argv,message", [
    (["alerts", "list", "--severity", "bogus"], "severity"),
    (["alerts", "list", "--limit", "0"], "limit"),
    (["alerts", "ack", "HA-nope"], "HA-<yyyymmdd>"),
    (["alerts", "feedback", "HA-20250422-C000914-churn_risk"], "at least one of"),
    (["alerts", "feedback", "HA-20250422-C000914-churn_risk", "--priority", "9"], "priority_rating"),
    (["health", "show", "--date", "1999-01-01"], "before"),
    (["health", "accuracy", "--date", "2030-01-01"], "simulated up to"),
])  # fmt: skip
def test_cli_refuses_bad_input_with_one_message(argv: list[str], message: str) -> None:
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_cli_feedback_then_summary(tmp_path) -> None:
    ops = f"sqlite:///{tmp_path / 'ops.db'}"
    listed = runner.invoke(app, ["alerts", "list", "--severity", "critical", "--limit", "1", "--json", "--seed", "1"])
    aid = __import__("json").loads(listed.output)["alerts"][0]["alert"]["alert_id"]
    out = runner.invoke(app, ["alerts", "feedback", aid, "--seed", "1", "--accuracy", "accurate", "--ops-url", ops])
    assert out.exit_code == 0, out.output
    summary = runner.invoke(app, ["alerts", "summary", "--ops-url", ops])
    assert "critical: 1 with feedback, precision 100.0%" in summary.output


def test_truth_on_a_hand_built_future() -> None:
    rows = world()
    rows["subscriptions"] = [dict(s, cancelled_on=D + dt.timedelta(days=10)) if s["subscription_id"] == "SA1" else s
                             for s in rows["subscriptions"]]  # fmt: skip
    engine = memory_engine()
    create_schema(engine)
    insert_rows(engine, rows)
    with engine.connect() as conn:
        scored = rows_from(score_all(conn, D, S), S)
        left = leavers(conn, [r.customer_id for r in scored], D, S)
        report = measure(conn, D, S)
    # A cancels 10 days on; D's last order (50 days before) is 80 days old at the horizon: not lapsed
    assert left == {"A": 10}
    a = next(r for r in scored if r.customer_id == "A")
    assert a.alert is not None
    sev = report.of(a.alert.severity)
    assert (sev.alerts, sev.right, sev.precision, sev.mean_lead_days) == (1, 1, 1.0, 10.0)
    assert report.leavers == 1 and report.of("critical").recall_at_or_above in (0.0, 1.0)


def test_measure_world_defaults_to_the_last_checkable_date() -> None:
    agent = DataAgent.create("churn_spike", "sarah_chen", seed=1)
    report = measure_world(agent)
    assert report.date == agent.world.horizon - dt.timedelta(days=report.horizon_days)
    assert report.leavers > 0 and report.of("critical").alerts > 0
