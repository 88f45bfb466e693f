"""CJ over poor data: the rule-based CJ checks the data_quality view and caveats its answers; the
style evaluator's caveat sub-check passes such a conversation and fails one without the caveats."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine, text

from app.evaluation.adherence import workflow_adherence_evaluator
from app.evaluation.style import style_evaluator
from app.providers.data_agent import DataAgent
from app.providers.loading import load_world
from app.providers.production import ProductionDataProvider
from app.simulation import RunConfig, run_conversation
from app.storage.admin import init_database, refresh_database
from app.transcript import Transcript
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)

CONFIG = RunConfig(scenario="churn_spike", merchant="sarah_chen", workflow="daily_briefing")
CAVEAT_LINE = re.compile(r"\n*[^\n]*[Dd]ata-quality caveat[^\n]*")


def _spoil(url: str) -> None:
    """Every fifth customer loses the email, every seventh order turns negative; then a refresh stores
    the checks, as a writer that bypassed cjsim would leave it."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE customers SET email = '' WHERE customer_id LIKE '%0' OR customer_id LIKE '%5'"))
        conn.execute(text("UPDATE orders SET amount_cents = -amount_cents WHERE order_id LIKE '%7'"))
    engine.dispose()
    refresh_database(url)


def _poor_database(url: str) -> str:
    init_database(url)
    load_world(url, CONFIG.scenario, CONFIG.merchant, seed=0)
    _spoil(url)
    return url


@pytest.fixture(scope="module")
def poor_sqlite(tmp_path_factory) -> str:
    return _poor_database(f"sqlite:///{tmp_path_factory.mktemp('poor') / 'poor.db'}")


@pytest.fixture(scope="module")
def transcript(poor_sqlite: str) -> Transcript:
    provider = ProductionDataProvider(poor_sqlite, allow_writable_user=True)
    try:
        return run_conversation(CONFIG, provider=provider)
    finally:
        provider.close()


def _calls(t: Transcript) -> list[str]:
    return [c.name for m in t.messages for c in (m.tool_calls or [])]


def test_the_view_flags_the_spoiled_tables_on_every_backend(poor_sqlite: str, pg_schemas) -> None:  # noqa: F811
    answers = []
    for url in (poor_sqlite, _poor_database(pg_schemas.new("dqconv"))):
        provider = ProductionDataProvider(url, allow_writable_user=True)
        answers.append(provider.data_quality().to_json())
        provider.close()
    assert answers[0] == answers[1]
    view = answers[0]
    assert view["verdict"] == "caveat" and view["affected_tables"] == ["customers", "orders"]
    assert {"order_metrics", "customer_list", "daily_briefing"} <= set(view["affected_views"])
    assert "ticket_metrics" not in view["affected_views"] and "search_tickets" not in view["affected_views"]


def test_cj_checks_quality_and_caveats_answers_from_flagged_views(transcript: Transcript) -> None:
    calls = _calls(transcript)
    assert calls.count("get_data_quality") == 1 and calls[0] == "get_data_quality"  # with its first data call
    replies = [m.content for m in transcript.messages if m.role == "cj" and m.content]
    caveated = [r for r in replies if "data-quality caveat" in r.lower()]
    assert caveated and all("customers (completeness) and orders (validity)" in r for r in caveated)
    style = style_evaluator()(transcript=transcript)
    assert style.passed, style.comment
    assert not [v for v in style.details["violations"] if v["check"] == "caveat"]
    assert workflow_adherence_evaluator()(transcript=transcript).passed  # the quality check is not off-workflow


def test_a_reply_without_its_caveat_fails(transcript: Transcript) -> None:
    messages = [
        m.model_copy(update={"content": CAVEAT_LINE.sub("", m.content)}) if m.role == "cj" else m
        for m in transcript.messages
    ]
    defect = transcript.model_copy(update={"messages": messages})
    result = style_evaluator()(transcript=defect)
    caveats = [v for v in result.details["violations"] if v["check"] == "caveat"]
    assert not result.passed and caveats
    assert "without a caveat (data quality caveat)" in caveats[0]["text"]


def test_without_a_quality_result_the_check_is_skipped(transcript: Transcript) -> None:
    ids = {c.id for m in transcript.messages for c in (m.tool_calls or []) if c.name == "get_data_quality"}
    messages = [
        m.model_copy(update={"content": CAVEAT_LINE.sub("", m.content)}) if m.role == "cj" else m
        for m in transcript.messages
        if m.tool_call_id not in ids
    ]
    unknown = transcript.model_copy(update={"messages": messages})
    result = style_evaluator()(transcript=unknown)
    assert not [v for v in result.details["violations"] if v["check"] == "caveat"]


def test_on_clean_data_cj_never_checks_quality() -> None:
    agent = DataAgent.create(CONFIG.scenario, CONFIG.merchant, seed=0)
    t = run_conversation(CONFIG, provider=agent)
    assert "get_data_quality" not in _calls(t)
    assert not any("caveat" in m.content.lower() for m in t.messages if m.role == "cj")
