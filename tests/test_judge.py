"""The judge: what its prompt carries, how it reads (and re-asks for) verdicts, the rubric library."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.catalog import Catalog
from app.errors import DataFileError
from app.evaluation.judge import judge_evaluator, read_verdict
from app.evaluation.judge_prompt import conversation_text
from app.transcript import Transcript
from tests.fakes import ScriptedChatModel, call
from tests.test_evaluators_text import Chat, fin_chat

CRITERIA = ("accuracy", "helpfulness", "tone", "role_adherence", "knowledge_retention", "completeness")


def verdict_json(passed: bool = True, skip: str | None = None) -> str:
    return json.dumps({"verdicts": [{"criterion": c, "passed": passed, "reason": "because"} for c in CRITERIA if c != skip]})


def with_tool_text(t: Transcript, text: str) -> Transcript:
    """``t`` with every tool message's content (what CJ read) replaced by ``text``."""
    messages = [m.model_copy(update={"content": text}) if m.role == "tool" else m for m in t.messages]
    return t.model_copy(update={"messages": messages})


def test_the_prompt_carries_the_tool_results_cj_saw() -> None:
    model = ScriptedChatModel(replies=[verdict_json()])
    seen = "Financial metrics (30d)\nMRR: $45,210 (previous $44,100)\nChurn rate: 5.98%\nCAC: $46.45"
    judge_evaluator(model, n=1)(transcript=with_tool_text(fin_chat("MRR is $45,210."), seen))
    system, human = model.calls[0]
    assert "[CJ calls get_financial_metrics" in human.content
    assert "[tool get_financial_metrics -> success] Financial metrics (30d)" in human.content
    assert "Churn rate: 5.98%" in human.content and "CAC: $46.45" in human.content  # every line, not the first
    for name in CRITERIA:
        assert f"## {name}" in system.content
    assert "Example 1 (PASS" in system.content and "(FAIL" in system.content
    assert "cut at 1200 characters" in system.content  # the budget is stated


def test_tool_results_are_cut_at_the_stated_budget() -> None:
    rows = "\n".join(f"C{i:06d} lifetime value ${i * 10}" for i in range(400))
    t = with_tool_text(Chat().merchant("List customers").tool("get_financial_metrics", {}, {}).cj("Here.").build(), rows)
    tool = next(m for m in t.messages if m.role == "tool")
    text = conversation_text(t, max_chars=100_000, tool_chars=300)
    shown = text.split("[tool get_financial_metrics -> success] ", 1)[1].split("\nCJ: Here.")[0]
    cut = len(tool.content.strip()) - 300
    assert shown == tool.content[:300] + f" [... {cut} more characters cut]" and cut > 0
    assert len(conversation_text(t, max_chars=600, tool_chars=300)) < 700


def test_plain_text_is_asked_again_then_read() -> None:
    model = ScriptedChatModel(replies=["I think CJ did fine overall.", "Sure: " + verdict_json()])
    result = judge_evaluator(model, n=1)(transcript=fin_chat("MRR is $45,210."))
    assert not result.skipped and result.score == 1.0
    assert len(model.calls) == 2
    assert "could not be read: the reply holds no JSON object" in model.calls[1][-1].content


def test_unreadable_twice_is_skipped_with_the_reason_never_scored() -> None:
    model = ScriptedChatModel(replies=["no idea"])
    result = judge_evaluator(model, n=3)(transcript=fin_chat("MRR is $45,210."))
    assert result.skipped and result.score is None and result.passed is None
    assert "unreadable after a retry" in result.comment and "no JSON object" in result.comment
    assert len(model.calls) == 2  # one vote, asked once more, then it stops


def test_a_missing_criterion_is_not_counted_as_a_verdict() -> None:
    model = ScriptedChatModel(replies=[verdict_json(skip="tone")])
    result = judge_evaluator(model, n=1)(transcript=fin_chat("MRR is $45,210."))
    assert result.skipped and "no verdict for tone" in result.comment


def test_structured_tool_call_answers_are_read() -> None:
    args = json.loads(verdict_json(passed=False))
    model = ScriptedChatModel(replies=[call("JudgeVerdict", args)])
    result = judge_evaluator(model, n=1)(transcript=fin_chat("MRR is $45,210."))
    assert result.score == 0.0 and result.passed is False
    assert result.details["criteria"]["accuracy"] == {"passed": False, "score": 0.0, "votes": [False], "reasons": ["because"]}


def test_read_verdict_reports_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="not a verdict"):
        read_verdict('{"verdicts": [{"criterion": "tone"}]}', ["tone"])
    assert read_verdict({"verdicts": [{"criterion": "Tone ", "passed": True, "reason": "r"}]}, ["tone"])["tone"].passed


def test_rubric_library_is_validated(tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(Catalog.default().data_dir, data)
    text = (data / "rubrics.yaml").read_text(encoding="utf-8")
    # drop every failing example of accuracy: the rubric must show both verdicts
    broken = text.replace("        passed: false\n        reason: Neither 3.2%", "        passed: true\n        reason: Neither 3.2%")
    (data / "rubrics.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(DataFileError, match="rubrics.yaml.*criteria.accuracy.*passing and one failing"):
        Catalog.load(data)
    (data / "rubrics.yaml").write_text(text, encoding="utf-8")
    settings = (data / "evaluation.yaml").read_text(encoding="utf-8")
    (data / "evaluation.yaml").write_text(settings.replace("completeness]", "charm]"), encoding="utf-8")
    with pytest.raises(DataFileError, match=r"judge.criteria.5.*'charm' is no criterion of rubrics.yaml"):
        Catalog.load(data)


def test_default_criteria_come_from_the_settings() -> None:
    assert judge_evaluator().criteria == CRITERIA
    assert isinstance(Transcript, type)


def test_replay_model_spec_is_an_offline_judge(tmp_path: Path) -> None:
    from app.batch.runner import make_judge_model
    from app.errors import InvalidArgumentError

    replies = tmp_path / "verdicts.yaml"
    replies.write_text(f"replies:\n  - 'not json'\n  - '{verdict_json()}'\n", encoding="utf-8")
    model = make_judge_model(f"replay:{replies}")
    result = judge_evaluator(model, n=1)(transcript=fin_chat("MRR is $45,210."))
    assert result.score == 1.0  # the first reply was unreadable, the second read
    (tmp_path / "empty.yaml").write_text("replies: []\n", encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match="needs `replies:` with a non-empty list"):
        make_judge_model(f"replay:{tmp_path / 'empty.yaml'}")
