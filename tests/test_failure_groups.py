"""Failures grouped by reason category, in the summary and both reports."""

from __future__ import annotations

from app.evaluation.result import EvalResult
from app.reporting.failures import failure_groups, reason_categories
from app.reporting.html_report import render_html
from app.reporting.report import render_markdown
from app.reporting.summarize import summarize
from tests.test_stats import record, result


def grounding(passed: bool, statuses: list[str]) -> EvalResult:
    claims = [{"text": f"{i}", "status": s, "kind": "money"} for i, s in enumerate(statuses)]
    return EvalResult(key="grounding", score=0.5, passed=passed, comment=f"{statuses.count('ungrounded')} ungrounded", details={"claims": claims})


def test_categories_come_from_the_details_labels() -> None:
    assert reason_categories(grounding(False, ["grounded", "ungrounded", "ungrounded"])) == ["claims: ungrounded"]
    style = EvalResult(key="style", score=0.5, passed=False, comment="x",
                       details={"violations": [{"check": "leak"}, {"check": "answer"}, {"check": "leak"}]})  # fmt: skip
    assert reason_categories(style) == ["violations: leak", "violations: answer"]
    contradictions = EvalResult(key="consistency", score=0.5, passed=False, comment="x",
                                details={"contradictions": [{"metric": "mrr"}], "statements": [{"metric": "mrr"}]})  # fmt: skip
    assert reason_categories(contradictions) == ["contradictions"]
    bare = EvalResult(key="trajectory", score=0.0, passed=False, comment="superset: 0/3 calls matched 'get_x'")
    assert reason_categories(bare) == ["superset: N/N calls matched '…'"]


def test_groups_count_conversations_and_failed_runs() -> None:
    records = [
        record(scenario="a", scores=[grounding(False, ["ungrounded"]), result("style", True)]),
        record(scenario="b", scores=[grounding(False, ["ungrounded", "derived"])]),
        record(scenario="c", scores=[grounding(True, ["grounded"])]),
        record(scenario="d", failed="TimeoutError: model hung"),
    ]
    groups = failure_groups(records)
    assert [(g.evaluator, g.category, g.count) for g in groups] == [
        ("grounding", "claims: ungrounded", 2),
        ("conversation", "failed: TimeoutError", 1),
    ]
    assert groups[0].cases == ["a/sarah_chen/crisis_response/0", "b/sarah_chen/crisis_response/0"]
    summary = summarize(records)
    assert summary.failure_groups == groups
    markdown = render_markdown(summary)
    assert "## Failures by reason category" in markdown
    assert "| grounding | claims: ungrounded | 2 | a/sarah_chen/crisis_response/0, b/sarah_chen/crisis_response/0 |" in markdown
    page = render_html(summary)
    assert '<table id="failure-groups">' in page and "<td>claims: ungrounded</td>" in page
