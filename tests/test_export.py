"""``cjsim export RUN --format openai-jsonl``: OpenAI chat lines that agentevals and DeepEval read as they are."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from agentevals.trajectory.match import create_trajectory_match_evaluator
from typer.testing import CliRunner

from app.batch.records import RunDir, RunRecord
from app.batch.run import batch_manifest, run_batch
from app.cli import app
from app.errors import InvalidArgumentError
from app.reporting.export import export_run, openai_lines
from app.tools import ALL_TOOLS

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "small"
    manifest = batch_manifest("small", scenarios=["churn_spike"], merchants=["sarah_chen"],
                              workflows=["crisis_response", "daily_briefing"], seeds=[0])  # fmt: skip
    run_batch(manifest, out, jobs=1)
    failed = RunRecord.model_validate({"case": {**manifest.cases()[0].model_dump(), "seed": 9}, "status": "failed", "error": "X: y"})
    RunDir(out).append(failed)
    return out


@pytest.fixture(scope="module")
def lines(run: Path) -> list[dict]:
    result = runner.invoke(app, ["export", str(run), "--format", "openai-jsonl"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "exported 2 conversations (openai-jsonl); left out 1 failed" in " ".join(result.stderr.split())
    return [json.loads(line) for line in text.splitlines()]


def test_one_line_per_finished_conversation_with_consistent_roles_and_ids(lines: list[dict]) -> None:
    assert [line["metadata"]["workflow"] for line in lines] == ["crisis_response", "daily_briefing"]
    for line in lines:
        messages = line["messages"]
        assert messages[0]["role"] == "system" and "You are CJ" in messages[0]["content"]
        assert {m["role"] for m in messages[1:]} <= {"user", "assistant", "tool"}
        asked: list[str] = []
        for m in messages:
            if m["role"] == "assistant":
                for c in m.get("tool_calls", []):
                    assert c["type"] == "function" and isinstance(json.loads(c["function"]["arguments"]), dict)
                    asked.append(c["id"])
            elif m["role"] == "tool":
                assert m["tool_call_id"] in asked, "a tool result answers a call made before it"
                assert isinstance(m["content"], str) and m["content"]
        answered = [m["tool_call_id"] for m in messages if m["role"] == "tool"]
        assert sorted(answered) == sorted(asked) and len(set(asked)) == len(asked)


def test_tools_are_the_bound_tools_in_openai_format(lines: list[dict]) -> None:
    for line in lines:
        names = [t["function"]["name"] for t in line["tools"]]
        assert set(names) <= set(ALL_TOOLS) and len(names) == len(set(names))
        for t in line["tools"]:
            assert t["type"] == "function" and t["function"]["description"]
            assert t["function"]["parameters"]["type"] == "object"
        called = {c["function"]["name"] for m in line["messages"] for c in m.get("tool_calls", [])}
        assert called <= set(names)
    crisis = next(line for line in lines if line["metadata"]["workflow"] == "crisis_response")
    params = next(t for t in crisis["tools"] if t["function"]["name"] == "get_ticket_metrics")["function"]["parameters"]
    assert "time_range" in params["properties"]


def test_agentevals_reads_the_messages_unmodified(lines: list[dict]) -> None:
    strict = create_trajectory_match_evaluator(trajectory_match_mode="strict")
    messages = copy.deepcopy(lines[0]["messages"])  # agentevals normalises the dicts it is given in place
    assert strict(outputs=messages, reference_outputs=messages)["score"] is True
    first_call = next(i for i, m in enumerate(messages) if m.get("tool_calls"))
    reference = messages[:first_call] + messages[first_call + 1 :]  # one tool call fewer
    assert strict(outputs=messages, reference_outputs=reference)["score"] is False
    superset = create_trajectory_match_evaluator(trajectory_match_mode="superset")
    assert superset(outputs=messages, reference_outputs=reference)["score"] is True


def test_deepeval_turns_follow_its_conversational_test_case(lines: list[dict]) -> None:
    # DeepEval's documented Turn: role user/assistant, content, tools_called [{name, input_parameters, output}]
    for line in lines:
        case = line["deepeval"]
        assert set(case) == {"turns", "scenario", "chatbot_role"} and case["scenario"] and case["chatbot_role"]
        users = [m["content"] for m in line["messages"] if m["role"] == "user"]
        assert [t["content"] for t in case["turns"] if t["role"] == "user"] == users
        outputs = [m["content"] for m in line["messages"] if m["role"] == "tool"]
        called = [c for t in case["turns"] if t["role"] == "assistant" for c in t["tools_called"]]
        assert [c["output"] for c in called] == outputs
        for turn in case["turns"]:
            assert turn["role"] in ("user", "assistant") and isinstance(turn["content"], str)
            for c in turn.get("tools_called", []):
                assert set(c) == {"name", "input_parameters", "output"} and isinstance(c["input_parameters"], dict)


def test_metadata_carries_the_case_and_its_scores(lines: list[dict]) -> None:
    meta = lines[0]["metadata"]
    assert meta["id"] == "churn_spike/sarah_chen/crisis_response/0" and meta["seed"] == 0
    assert meta["scores"]["grounding"]["passed"] is True and meta["scores"]["judge"]["skipped"] is True


def test_export_to_a_file_and_bad_formats(run: Path, tmp_path: Path, lines: list[dict]) -> None:
    out = tmp_path / "x" / "run.jsonl"
    result = runner.invoke(app, ["export", str(run), "--out", str(out)])
    assert result.exit_code == 0 and [json.loads(x) for x in out.read_text().splitlines()] == lines
    with pytest.raises(InvalidArgumentError, match="unknown export format 'csv'; valid formats: openai-jsonl"):
        export_run(RunDir(run).records(), None, "csv")
    assert len(list(openai_lines(RunDir(run).records()))) == 2
