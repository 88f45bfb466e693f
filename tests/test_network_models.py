"""Network chat models through the real OpenAI client, against a fake OpenAI-compatible server on 127.0.0.1.

Timeouts, one retry policy (the client's own retries off), usage of every model, empty replies,
malformed tool calls, judge votes, and how ``cjsim run`` reports a failed run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.batch.execution import INTERRUPTED, run_on_threads
from app.batch.records import CaseKey, RunDir, RunRecord
from app.batch.runner import make_judge_model
from app.cli import app
from app.errors import InvalidArgumentError, UnknownNameError
from app.evaluation.judge import SAMPLE_TEMPERATURE, judge_evaluator
from app.model_specs import DEFAULT_TIMEOUT_S, make_cj_model, parse_spec
from app.retry import RetryPolicy
from app.simulation import RunConfig, run_conversation
from tests.conftest import cached_agent
from tests.fake_openai import EMPTY, FakeOpenAIServer, Hang, Reply, Status, tool_call

pytest.importorskip("langchain_openai")

NO_WAIT = RetryPolicy(max_attempts=3, sleep=lambda s: None)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with FakeOpenAIServer() as s:
        yield s


def spec(server: FakeOpenAIServer, model: str, timeout: float = 5) -> str:
    return f"openai:{model}?timeout={timeout:g}&base_url={server.base_url}"


def briefing(server: FakeOpenAIServer, cj: str = "cj", merchant: str = "script", **kwargs: Any):
    cfg = RunConfig(workflow="daily_briefing", cj_model=spec(server, cj), merchant_model=merchant, max_turns=2)
    return run_conversation(cfg, provider=cached_agent("growth_stall", "marcus_thompson", 0), **kwargs)


BRIEFING_CALL = Reply("", tool_calls=[tool_call("get_daily_briefing", {})], usage=(100, 10))
ANSWER = Reply("Good morning! MRR is flat this week.", usage=(200, 20))
DONE = Reply("Thanks, that's all. [DONE]", usage=(50, 8))


# --------------------------------------------------------------------------- specs and clients


def test_spec_options_round_trip_and_bad_options_are_named() -> None:
    parsed = parse_spec("openai:gpt-4o-mini?timeout=20&base_url=http://127.0.0.1:8000/v1")
    assert (parsed.timeout, parsed.base_url) == (20.0, "http://127.0.0.1:8000/v1")
    assert parse_spec(str(parsed)) == parsed and str(parse_spec("ollama:llama3.1:8b")) == "ollama:llama3.1:8b"
    with pytest.raises(UnknownNameError, match="unknown model spec option 'retries'; valid .*: base_url, timeout"):
        parse_spec("openai:x?retries=3")
    for bad, message in [
        ("openai:x?timeout=0", "more than 0 and at most 3600 seconds"),
        ("openai:x?timeout=soon", "must be a number of seconds, got 'soon'"),
        ("openai:x?base_url=ftp://h", "must be an http:// or https:// URL"),
        ("openai:x?timeout", "malformed options"),
        ("rules?timeout=3", "apply only to provider models"),
    ]:
        with pytest.raises(InvalidArgumentError, match=message):
            parse_spec(bad)


def test_provider_models_get_a_timeout_and_no_client_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    default = make_cj_model("openai:gpt-4o-mini")
    assert default.request_timeout == DEFAULT_TIMEOUT_S and default.max_retries == 0
    assert make_cj_model("openai:gpt-4o-mini", timeout=7).request_timeout == 7
    assert make_cj_model("openai:gpt-4o-mini?timeout=3", timeout=7).request_timeout == 3  # the spec wins
    with pytest.raises(InvalidArgumentError, match="the model timeout must be more than 0"):
        make_cj_model("openai:gpt-4o-mini", timeout=-1)


@pytest.mark.parametrize(
    ("kind", "module", "cls", "expected"),
    [
        ("anthropic", "langchain_anthropic", "ChatAnthropic", {"timeout": 9.0, "max_retries": 0, "base_url": "http://h:1"}),
        ("ollama", "langchain_ollama", "ChatOllama", {"client_kwargs": {"timeout": 9.0}, "base_url": "http://h:1"}),
    ],
)
def test_every_provider_gets_the_timeout_and_base_url_its_client_understands(
    kind: str, module: str, cls: str, expected: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}
    fake = type(sys)(module)
    setattr(fake, cls, lambda **kwargs: seen.update(kwargs) or "model")
    monkeypatch.setitem(sys.modules, module, fake)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    assert make_cj_model(f"{kind}:m?timeout=9&base_url=http://h:1") == "model"
    assert seen == {"model": "m", "temperature": 0.0, **expected}


# --------------------------------------------------------------------------- a conversation


def test_a_conversation_records_every_models_usage(server: FakeOpenAIServer) -> None:
    server.script("cj", [BRIEFING_CALL, ANSWER])
    server.script("merchant", [DONE])
    t = briefing(server, merchant=spec(server, "merchant"))
    assert t.termination_reason == "merchant_done", t.error
    assert [m.role for m in t.messages] == ["cj", "tool", "cj", "merchant"]
    assert t.usage == {
        "cj": {"input_tokens": 300, "output_tokens": 30, "total_tokens": 330},
        "merchant": {"input_tokens": 50, "output_tokens": 8, "total_tokens": 58},
    }
    first = server.requests_for("cj")[0]
    assert [tool["function"]["name"] for tool in first["tools"]][:1] == ["get_daily_briefing"]
    assert t.meta["versions"]["langgraph"] not in ("", "unknown")


def test_rate_limits_are_retried_by_one_policy_only(server: FakeOpenAIServer) -> None:
    server.script("cj", [Status(429), Status(429), BRIEFING_CALL, ANSWER])
    t = briefing(server, retry=NO_WAIT)
    assert t.termination_reason == "max_turns", t.error
    answered = sum(m.role == "cj" for m in t.messages)
    assert len(server.requests_for("cj")) == 2 + answered  # the client itself never retried a 429


def test_a_failing_server_gives_up_after_max_attempts_requests(server: FakeOpenAIServer) -> None:
    server.script("cj", [Status(500)])
    t = briefing(server, retry=RetryPolicy(max_attempts=2, sleep=lambda s: None))
    assert t.termination_reason == "agent_error"
    assert "InternalServerError" in t.error or "500" in t.error
    assert t.error.endswith("(gave up after 2 attempts)")
    assert len(server.requests_for("cj")) == 2


def test_a_hung_request_times_out_and_is_retried(server: FakeOpenAIServer) -> None:
    server.script("cj", [Hang(5), BRIEFING_CALL, ANSWER])
    cfg = RunConfig(workflow="daily_briefing", cj_model=spec(server, "cj", timeout=0.2), max_turns=2)
    t = run_conversation(cfg, provider=cached_agent("growth_stall", "marcus_thompson", 0), retry=NO_WAIT)
    assert t.termination_reason == "max_turns", t.error
    assert len(server.requests_for("cj")) == 1 + sum(m.role == "cj" for m in t.messages)
    assert t.messages[0].tool_calls[0].name == "get_daily_briefing"


def test_an_empty_reply_is_asked_for_again_and_its_tokens_count(server: FakeOpenAIServer) -> None:
    server.script("cj", [BRIEFING_CALL, EMPTY, ANSWER])
    server.script("merchant", [DONE])
    t = briefing(server, merchant=spec(server, "merchant"))
    assert t.termination_reason == "merchant_done", t.error
    assert all(m.content or m.tool_calls for m in t.messages if m.role == "cj")
    assert t.usage["cj"]["input_tokens"] == 100 + 10 + 200  # the empty reply's prompt tokens too


def test_two_empty_replies_end_the_run_before_the_merchant_speaks(server: FakeOpenAIServer) -> None:
    server.script("cj", [BRIEFING_CALL, EMPTY])
    server.script("merchant", [Reply("What did you say?")])
    t = briefing(server, merchant=spec(server, "merchant"))
    assert t.termination_reason == "agent_error"
    assert t.error == "CJ model: returned an empty reply twice"
    assert server.requests_for("merchant") == []  # never asked to answer silence
    assert [m.role for m in t.messages] == ["cj", "tool"]


def test_an_empty_merchant_reply_is_asked_for_again(server: FakeOpenAIServer) -> None:
    server.script("cj", [BRIEFING_CALL, ANSWER])
    server.script("merchant", [EMPTY, Reply("Great, thanks [DONE]")])
    t = briefing(server, merchant=spec(server, "merchant"))
    assert t.termination_reason == "merchant_done", t.error
    assert [m.content for m in t.messages if m.role == "merchant"] == ["Great, thanks"]
    assert len(server.requests_for("merchant")) == 2


def test_malformed_tool_call_arguments_come_back_as_an_error_the_model_recovers_from(server: FakeOpenAIServer) -> None:
    broken = Reply("", tool_calls=[tool_call("get_daily_briefing", '{"as_of": ', "call_bad")])
    server.script("cj", [broken, BRIEFING_CALL, ANSWER])
    t = briefing(server)
    cj, error, *_ = t.messages
    assert cj.tool_calls is None and [c.model_dump() for c in cj.invalid_tool_calls] == [
        {"id": "call_bad", "name": "get_daily_briefing", "args": '{"as_of": '}
    ]
    assert error.role == "tool" and error.status == "error" and error.tool_call_id == "call_bad"
    assert "not a valid JSON object" in error.content and '{"as_of": ' in error.content
    assert t.messages[3].status == "success"  # the model called again, correctly
    # the history sent back pairs the unreadable call with its error, as the API requires
    resent = server.requests_for("cj")[1]["messages"]
    assistant = next(m for m in resent if m["role"] == "assistant")
    assert assistant["tool_calls"][0]["id"] == "call_bad"
    assert any(m["role"] == "tool" and m["tool_call_id"] == "call_bad" for m in resent)
    exported = t.to_openai()["messages"][0]
    assert exported["tool_calls"][0]["function"]["arguments"] == '{"as_of": '
    assert "invalid_tool_calls" not in json.loads(t.to_json())["messages"][3]  # absent unless there are some


def test_malformed_tool_calls_count_toward_the_tool_error_limit(server: FakeOpenAIServer) -> None:
    server.script("cj", [Reply("", tool_calls=[tool_call("get_daily_briefing", "not json")])])
    t = briefing(server)
    assert t.termination_reason == "tool_error_limit"
    assert sum(m.status == "error" for m in t.messages) == 3


# --------------------------------------------------------------------------- the judge


def verdict_reply(passed: bool, usage: tuple[int, int] = (400, 40)) -> Reply:
    criteria = ("accuracy", "helpfulness", "tone", "role_adherence", "knowledge_retention", "completeness")
    verdicts = [{"criterion": c, "passed": passed, "reason": "cites the numbers"} for c in criteria]
    return Reply(json.dumps({"verdicts": verdicts}), usage=usage)


def test_judge_votes_can_differ_and_their_tokens_are_totalled(server: FakeOpenAIServer) -> None:
    from app.transcript import Transcript

    server.script("cj", [BRIEFING_CALL, ANSWER])
    transcript: Transcript = briefing(server)
    server.script("judge", [verdict_reply(True), verdict_reply(False), verdict_reply(True)])
    result = judge_evaluator(make_judge_model(spec(server, "judge")))(transcript=transcript)
    assert result.passed and result.details["criteria"]["tone"]["votes"] == [True, False, True]
    assert result.details["usage"] == {"input_tokens": 1200, "output_tokens": 120, "total_tokens": 1320}
    requests = server.requests_for("judge")
    assert [r["temperature"] for r in requests] == [SAMPLE_TEMPERATURE] * 3
    schema = json.dumps(requests[0]["response_format"])
    assert '"strict": true' in schema and '"default"' not in schema  # strict endpoints refuse defaults
    single = make_judge_model(spec(server, "judge"), samples=1)
    assert single.temperature == 0.0


# --------------------------------------------------------------------------- the command line


runner = CliRunner()


def test_run_exits_non_zero_when_the_run_ends_in_agent_error(server: FakeOpenAIServer) -> None:
    server.script("cj", [Status(500)])
    result = runner.invoke(app, ["run", "--workflow", "daily_briefing", "--cj-model", spec(server, "cj"),
                                 "--max-attempts", "1", "--format", "json"])  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "agent error:" in result.output and "gave up after 1 attempts" in result.output
    assert len(server.requests_for("cj")) == 1  # --max-attempts 1 means one request
    assert "Traceback" not in result.output


def test_run_with_a_working_model_exits_0(server: FakeOpenAIServer) -> None:
    server.script("cj", [BRIEFING_CALL, ANSWER])
    server.script("merchant", [DONE])
    result = runner.invoke(app, ["run", "--workflow", "daily_briefing", "--cj-model", spec(server, "cj"),
                                 "--merchant-model", spec(server, "merchant"), "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["usage"]["cj"]["total_tokens"] == 330


@pytest.mark.parametrize("command", [["run"], ["chat"], ["batch", "--out", "unused"]])
def test_a_bad_model_timeout_is_one_error_line(command: list[str], tmp_path: Path) -> None:
    result = runner.invoke(app, [*command, "--model-timeout", "0"])
    assert result.exit_code == 2, result.output
    assert "the model timeout must be more than 0" in " ".join(result.output.split())
    assert not (tmp_path / "unused").exists()


def test_a_batch_totals_the_usage_of_cj_and_the_judge(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.script("cj", [BRIEFING_CALL, ANSWER])
    server.script("judge", [verdict_reply(True, usage=(300, 30))])
    result = runner.invoke(app, ["batch", "--scenarios", "churn_spike", "--merchants", "sarah_chen",
                                 "--workflows", "daily_briefing", "--seeds", "0,1", "--turns", "1", "--jobs", "2",
                                 "--evaluators", "judge", "--cj-model", spec(server, "cj"),
                                 "--judge-model", spec(server, "judge"), "--quiet", "--out", str(tmp_path / "b")])  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "cases: 2 ok, 0 failed" in text
    assert "tokens judge: 1,800 in, 180 out (2 conversations)" in text  # 3 votes x 2 conversations
    assert "tokens merchant: not reported" in text and "tokens cj: " in text


# --------------------------------------------------------------------------- Ctrl-C


def test_an_interrupt_records_the_running_cases_and_does_not_wait_for_them() -> None:
    started, release = threading.Event(), threading.Event()

    class HangingRunner:
        def run(self, case: CaseKey) -> RunRecord:
            if case.seed == 1:
                started.set()
                release.wait(30)  # a model call that does not come back
            return RunRecord(case=case, status="ok")

    cases = [CaseKey(scenario="churn_spike", merchant="sarah_chen", workflow="daily_briefing", seed=s) for s in (0, 1)]
    got: list[RunRecord] = []

    def sink(record: RunRecord) -> None:
        got.append(record)
        if record.case.seed == 0:
            started.wait(30)
            raise KeyboardInterrupt  # Ctrl-C while case 1 is running

    try:
        with pytest.raises(KeyboardInterrupt):
            run_on_threads(cases, HangingRunner, sink, jobs=2)
        assert not release.is_set()  # returned while case 1 was still hanging
        assert [(r.case.seed, r.status, r.error) for r in got] == [(0, "ok", None), (1, "interrupted", INTERRUPTED)]
    finally:
        release.set()


def test_ctrl_c_ends_a_network_batch_without_waiting_for_hung_requests(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.script("cj", [Hang(10)])
    out = tmp_path / "b"
    cmd = [sys.executable, "-m", "app", "batch", "--scenarios", "churn_spike", "--merchants", "sarah_chen",
           "--workflows", "daily_briefing", "--seeds", "0,1", "--jobs", "2", "--evaluators", "tool_use",
           "--cj-model", spec(server, "cj", timeout=60), "--quiet", "--out", str(out)]  # fmt: skip
    env = {**os.environ, "OPENAI_API_KEY": "test-key", "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).parent.parent)  # fmt: skip
    try:
        for _ in range(600):  # both cases are waiting on the server (a bound, not a timing claim)
            if len(server.requests_for("cj")) >= 2 or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            ended = proc.poll()  # set: it ended, but something it started holds its output open
            if ended is None:
                proc.send_signal(signal.SIGABRT)  # faulthandler prints where every thread waits
            try:
                _, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                err = "(its output stayed open)"
            pytest.fail(f"60 s after Ctrl-C the batch {'had not ended' if ended is None else f'had ended ({ended})'}:"
                        f"\n{err[-8000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert server.answered == 0  # it ended while both requests were still hanging
    assert sorted(r.status for r in RunDir(out).records()) == ["interrupted", "interrupted"]
    assert "0 finished cases are saved" in err and "2 cut off while running are marked interrupted" in " ".join(err.split())
    assert "Traceback" not in err
    from app.batch.summary import BatchSummary

    summary = BatchSummary.from_records(RunDir(out).records(), cases=2)
    assert (summary.ok, summary.failed, summary.interrupted, summary.missing) == (0, 0, 2, 0)

    server.script("cj", [BRIEFING_CALL, ANSWER])  # the provider is back: --resume runs the cut-off cases
    resumed = runner.invoke(app, [*cmd[3:], "--resume"], env={"OPENAI_API_KEY": "test-key"})
    assert resumed.exit_code == 0, resumed.output
    assert "cases: 2 ok, 0 failed (of 2)" in resumed.output
    assert sorted(r.status for r in RunDir(out).records()) == ["ok", "ok"]  # the interrupted records are replaced


def test_eval_rescores_with_a_judge_under_the_model_timeout(server: FakeOpenAIServer, tmp_path: Path) -> None:
    out = str(tmp_path / "b")
    batch = runner.invoke(app, ["batch", "--scenarios", "churn_spike", "--merchants", "sarah_chen",
                                "--workflows", "daily_briefing", "--seeds", "0", "--jobs", "1",
                                "--evaluators", "tool_use", "--quiet", "--out", out])  # fmt: skip
    assert batch.exit_code == 0, batch.output
    server.script("judge", [Hang(5), verdict_reply(True, usage=(300, 30))])
    judge = f"openai:judge?base_url={server.base_url}"  # no timeout in the spec: --model-timeout applies
    result = runner.invoke(app, ["eval", out, "--evaluators", "judge", "--judge-model", judge,
                                 "--model-timeout", "0.3", "--max-attempts", "2", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(server.requests_for("judge")) == 1 + 3  # the hung request timed out and was retried once
    assert "tokens judge: 900 in, 90 out (1 conversations)" in " ".join(result.output.split())
