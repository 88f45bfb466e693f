"""Batch runs through the library API: incremental records, determinism, resume, failures, retry, re-scoring."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.batch.records import BatchManifest, RunDir, RunRecord, latest_by_case
from app.batch.rescore import rescore
from app.batch.run import batch_manifest, execution_mode, manifest_differences, run_batch
from app.batch.summary import BatchSummary
from app.batch.usage import Prices, UsageTotals
from app.errors import DataFileError, InvalidArgumentError, ProviderError, UnknownNameError
from app.evaluation.result import EvalResult
from app.model_specs import make_merchant_model
from app.retry import RetryPolicy, is_transient
from app.scenarios import get_persona, get_scenario

GRID = {
    "scenarios": ["churn_spike", "growth_stall"],
    "merchants": ["sarah_chen"],
    "workflows": ["crisis_response", "daily_briefing"],
    "seeds": [0, 1],
}


class EndedWell:
    """A small deterministic evaluator: did the merchant end the conversation?"""

    key = "ended_well"

    def __call__(self, *, transcript):
        ok = transcript.termination_reason == "merchant_done"
        return EvalResult(key=self.key, score=1.0 if ok else 0.0, passed=ok)


class UsedTools:
    key = "used_tools"

    def __call__(self, *, transcript):
        n = len(transcript.tool_calls())
        return EvalResult(key=self.key, score=min(1.0, n / 3), passed=n > 0, details={"calls": n})


EVALUATORS = [EndedWell(), UsedTools()]


def manifest(**changes) -> BatchManifest:
    base = {"name": "t", "cj_model": "rules", "merchant_model": "script", "max_turns": 8, "provider": {"name": "data_agent"}}
    return BatchManifest(**{**base, **GRID, **changes})


def bodies(path: Path) -> dict[str, dict]:
    """Each case's record without wall-clock fields (transcript meta, duration)."""
    out = {}
    for r in RunDir(path).records():
        data = r.model_dump(mode="json", exclude={"duration_s"})
        if data["transcript"]:
            data["transcript"].pop("meta")
        out[r.case.id] = data
    return out


class FileWatcher:
    """Progress hook that checks the file on disk every time a record is reported."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: list[int] = []

    def start(self, total, done, label):
        self.total = total

    def advance(self, record):
        lines = self.path.read_text().splitlines()
        assert all(json.loads(line)["case"] for line in lines)
        self.seen.append(len(lines))

    def finish(self):
        pass


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The 8-case grid run once in process, shared by the tests that compare against it."""
    out = tmp_path_factory.mktemp("ref") / "batch"
    watcher = FileWatcher(out / "transcripts.jsonl")
    result = run_batch(manifest(), out, jobs=1, evaluators=EVALUATORS, progress=watcher)
    assert result.summary.ok == 8 and result.mode == "in_process"
    assert watcher.seen == list(range(1, 9))  # one durable line per finished case, before it is reported
    return out


def test_records_stream_in_and_match_whatever_the_jobs(tmp_path: Path, reference: Path) -> None:
    out = tmp_path / "pool"
    watcher = FileWatcher(out / "transcripts.jsonl")
    result = run_batch(manifest(), out, jobs=2, evaluators=EVALUATORS, progress=watcher)
    assert result.mode == "processes" and watcher.seen == list(range(1, 9))
    records = RunDir(out).records()
    assert sorted(r.case.id for r in records) == sorted(c.id for c in manifest().cases())
    assert all(r.status == "ok" and [s.key for s in r.scores] == ["ended_well", "used_tools"] for r in records)
    assert RunDir(out).read_manifest().evaluators == ["ended_well", "used_tools"]
    assert result.summary.evaluators["ended_well"].pass_rate == 1.0
    assert bodies(out) == bodies(reference)  # same content in process and in the pool (line order may differ)


def test_killed_batch_resumes_only_missing_cases(tmp_path: Path, reference: Path) -> None:
    out = tmp_path / "b"
    out.mkdir()
    (out / "batch.json").write_text((reference / "batch.json").read_text())
    lines = (reference / "transcripts.jsonl").read_text().splitlines(keepends=True)
    (out / "transcripts.jsonl").write_text("".join(lines[:5]) + lines[5][: len(lines[5]) // 2])  # torn mid-write
    assert len(RunDir(out).records()) == 5

    result = run_batch(manifest(), out, jobs=2, resume=True, evaluators=EVALUATORS)
    assert result.ran == 3
    records = RunDir(out).records()
    assert len(records) == 8 and len({r.case.id for r in records}) == 8
    assert bodies(out) == bodies(reference)
    assert run_batch(manifest(), out, resume=True, evaluators=EVALUATORS).ran == 0


def test_existing_batch_is_not_overwritten(tmp_path: Path, reference: Path) -> None:
    before = (reference / "transcripts.jsonl").read_bytes()
    with pytest.raises(InvalidArgumentError, match=r"already holds a batch \(nothing was overwritten\); resume it"):
        run_batch(manifest(), reference, jobs=1, evaluators=EVALUATORS)
    assert (reference / "transcripts.jsonl").read_bytes() == before


def test_resume_refuses_other_arguments(reference: Path) -> None:
    with pytest.raises(InvalidArgumentError) as err:
        run_batch(manifest(seeds=[0, 1, 2], max_turns=5), reference, resume=True, evaluators=EVALUATORS)
    message = str(err.value)
    assert "seeds 0,1 (now 0,1,2)" in message and "max-turns 8 (now 5)" in message
    assert manifest_differences(manifest(), manifest()) == []


def test_failed_case_is_recorded_and_the_batch_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.agents import data_agent

    real = data_agent.DataAgent.create.__func__

    def create(cls, scenario, merchant, **kw):
        if scenario == "growth_stall" and kw.get("seed") == 1:
            raise RuntimeError("disk on fire")
        return real(cls, scenario, merchant, **kw)

    monkeypatch.setattr(data_agent.DataAgent, "create", classmethod(create))  # forked workers inherit it
    out = tmp_path / "b"
    result = run_batch(manifest(), out, jobs=2, evaluators=EVALUATORS)
    failed = [r for r in RunDir(out).records() if r.status == "failed"]
    assert sorted(r.case.id for r in failed) == [
        "growth_stall/sarah_chen/crisis_response/1",
        "growth_stall/sarah_chen/daily_briefing/1",
    ]
    assert all(r.error == "RuntimeError: disk on fire" and r.transcript is None for r in failed)
    assert (result.summary.ok, result.summary.failed) == (6, 2)

    # resume reruns the failed cases; their failure records give way to the reruns
    monkeypatch.setattr(data_agent.DataAgent, "create", classmethod(real))
    again = run_batch(manifest(), out, jobs=1, resume=True, evaluators=EVALUATORS)
    assert again.ran == 2 and (again.summary.ok, again.summary.failed) == (8, 0)
    records = RunDir(out).records()
    assert len(records) == 8 and all(r.status == "ok" for r in records)


class RateLimitError(Exception):
    status_code = 429


class Flaky:
    """Wraps a chat model; its first ``failures`` calls raise ``error``."""

    def __init__(self, inner, failures: int, error: Exception) -> None:
        self.inner, self.failures, self.error, self.calls = inner, failures, error, 0

    def invoke(self, *args, **kwargs):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return self.inner.invoke(*args, **kwargs)


def flaky_merchant(failures: int, error: Exception):
    def factory(case):
        merchant = make_merchant_model("script", get_persona(case.merchant), get_scenario(case.scenario), case.seed)
        return None, Flaky(merchant, failures if case.seed == 0 else 0, error)

    return factory


def test_transient_errors_are_retried_with_backoff(tmp_path: Path, reference: Path) -> None:
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=4, base_delay=1.0, sleep=waits.append, random=lambda: 0.5)
    factory = flaky_merchant(2, RateLimitError("slow down"))
    small = manifest(scenarios=["churn_spike"])
    result = run_batch(small, tmp_path / "b", jobs=2, evaluators=EVALUATORS, model_factory=factory, retry=policy)
    assert result.mode == "threads" and result.summary.ok == 4
    attempts = {r.case.id: r.attempts for r in RunDir(tmp_path / "b").records()}
    assert attempts == {c.id: 3 if c.seed == 0 else 1 for c in small.cases()}
    assert sorted(waits) == [0.75, 0.75, 1.5, 1.5]  # 1 s then 2 s, each half fixed, half jitter
    ours, ref = bodies(tmp_path / "b"), bodies(reference)
    assert all(ours[k] | {"attempts": 1} == ref[k] for k in ours)  # retries leave no trace in the conversation


def test_retries_give_up_as_a_failed_case(tmp_path: Path) -> None:
    policy = RetryPolicy(max_attempts=3, sleep=lambda s: None)
    factory = flaky_merchant(99, RateLimitError("slow down"))
    run_batch(manifest(scenarios=["churn_spike"]), tmp_path / "b", jobs=2, evaluators=EVALUATORS,
              model_factory=factory, retry=policy)  # fmt: skip
    by_seed = {(r.case.workflow, r.case.seed): r for r in RunDir(tmp_path / "b").records()}
    gave_up = by_seed[("crisis_response", 0)]
    assert gave_up.status == "failed" and gave_up.attempts == 3
    assert gave_up.error == "RateLimitError: slow down (gave up after 3 attempts)"
    assert by_seed[("crisis_response", 1)].status == "ok"


def test_other_model_errors_are_not_retried(tmp_path: Path) -> None:
    waits: list[float] = []
    factory = flaky_merchant(1, ValueError("bad request"))
    run_batch(manifest(scenarios=["churn_spike"], seeds=[0]), tmp_path / "b", jobs=1, evaluators=EVALUATORS,
              model_factory=factory, retry=RetryPolicy(sleep=waits.append))  # fmt: skip
    record = RunDir(tmp_path / "b").records()[0]
    assert waits == [] and record.status == "ok" and record.attempts == 1
    assert record.transcript.termination_reason == "agent_error"  # the model's own error ends the conversation


def test_transient_error_classification() -> None:
    class APIStatusError(Exception):
        def __init__(self, status: int) -> None:
            self.response = type("R", (), {"status_code": status})()

    class APITimeoutError(Exception):
        pass

    wrapped = RuntimeError("call failed")
    wrapped.__cause__ = ConnectionResetError()
    assert all(is_transient(e) for e in (RateLimitError(), APIStatusError(503), APITimeoutError(), TimeoutError(), wrapped))
    assert not any(is_transient(e) for e in (APIStatusError(400), ValueError("bad"), KeyError("x")))
    policy = RetryPolicy(base_delay=2.0, max_delay=5.0, random=lambda: 1.0)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [2.0, 4.0, 5.0, 5.0]
    with pytest.raises(InvalidArgumentError, match="max attempts"):
        RetryPolicy(max_attempts=0)


def test_model_factory_or_network_specs_run_on_threads() -> None:
    m = manifest()
    assert execution_mode(m, 1) == "in_process" and execution_mode(m, 4) == "processes"
    assert execution_mode(m.model_copy(update={"cj_model": "openai:gpt-4o-mini"}), 1) == "threads"
    assert execution_mode(m, 2, model_factory=lambda case: (None, None)) == "threads"


def test_bad_jobs_and_names_are_domain_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="jobs must be between 1 and"):
        run_batch(manifest(), tmp_path / "b", jobs=0, evaluators=EVALUATORS)
    with pytest.raises(UnknownNameError, match="unknown scenario 'boom'; valid scenarios: .*churn_spike"):
        batch_manifest("x", scenarios="churn_spike,boom")
    with pytest.raises(InvalidArgumentError, match="seeds must be non-negative"):
        batch_manifest("x", seeds=[-1])
    assert not (tmp_path / "b").exists()


def test_manifest_resolves_names_and_masks_urls() -> None:
    m = batch_manifest("x", scenarios="churn_spike", merchants=["Sarah Chen", "sarah_chen"], workflows="all",
                       seeds=[3, 1, 3], provider="production", db_url="postgresql+psycopg://cj:s3cret@db/shop")  # fmt: skip
    assert m.merchants == ["sarah_chen"] and m.seeds == [1, 3] and len(m.workflows) >= 6
    assert m.provider == {"name": "production", "url": "postgresql+psycopg://cj:***@db/shop"}


def test_rescore_rewrites_scores_and_keeps_failures(tmp_path: Path, reference: Path) -> None:
    out = tmp_path / "b"
    out.mkdir()
    for name in ("batch.json", "transcripts.jsonl"):
        (out / name).write_text((reference / name).read_text())
    failed = RunRecord.model_validate({"case": manifest().cases()[0].model_dump(), "status": "failed", "error": "X: y"})
    RunDir(out).append(failed)

    class Strict:
        key = "used_tools"

        def __call__(self, *, transcript):
            return EvalResult(key=self.key, score=0.0, passed=False, comment="stricter now")

    before = RunDir(out).records()
    result = rescore(out, evaluators=[Strict()])
    records = RunDir(out).records()
    assert len(records) == 9 and records[-1] == failed
    strict = EvalResult(key="used_tools", score=0.0, passed=False, comment="stricter now")
    # only used_tools is replaced, in place; ended_well and everything else are untouched
    for old, new in zip(before[:8], records[:8], strict=True):
        assert new.scores == [old.score("ended_well"), strict]
        assert new.model_dump(exclude={"scores"}) == old.model_dump(exclude={"scores"})
    assert (result.rescored, result.kept) == (8, 1)
    assert RunDir(out).read_manifest().evaluators == ["ended_well", "used_tools"]
    assert result.summary.evaluators["used_tools"].pass_rate == 0.0
    assert not list(out.glob("*.tmp"))


def test_rescore_needs_a_batch(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="holds no batch"):
        rescore(tmp_path / "nothing", evaluators=EVALUATORS)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "transcripts.jsonl").write_text('{"case": 1}\n{"case": 2}\n')
    with pytest.raises(DataFileError, match="line 1: not a run record"):
        rescore(tmp_path / "bad", evaluators=EVALUATORS)


def _library_errors(tmp_path: Path, reference: Path) -> list[str]:
    """Messages of the batch library's refusals, one per way to misuse it."""
    from app.batch.runner import make_judge_model

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "transcripts.jsonl").write_text('{"case": 1}\n{"case": 2}\n')
    attempts = [
        lambda: run_batch(manifest(), reference, jobs=1, evaluators=EVALUATORS),
        lambda: run_batch(manifest(seeds=[0, 1, 2]), reference, resume=True, evaluators=EVALUATORS),
        lambda: run_batch(manifest(), reference / "transcripts.jsonl", evaluators=EVALUATORS),
        lambda: run_batch(manifest(provider={"name": "production"}), tmp_path / "p", evaluators=EVALUATORS),
        lambda: batch_manifest("p", provider="production"),
        lambda: make_judge_model("rules"),
        lambda: rescore(tmp_path / "nothing", evaluators=EVALUATORS),
        lambda: RunDir(corrupt).records(),
        lambda: Prices(input_per_million=-1.0),
    ]
    messages = []
    for attempt in attempts:
        with pytest.raises((InvalidArgumentError, DataFileError, ProviderError)) as info:
            attempt()
        messages.append(str(info.value))
    return messages


def test_library_errors_say_the_fix_without_cli_flags(tmp_path: Path, reference: Path) -> None:
    messages = _library_errors(tmp_path, reference)
    assert not [m for m in messages if re.search(r"(^|\s)--[a-z]", m)], messages
    assert "resume it to finish it (resume=True)" in messages[0]
    assert "give db_url" in messages[3] and "give db_url" in messages[4]


def test_latest_record_per_case_wins(reference: Path) -> None:
    records = RunDir(reference).records()
    retried = records[0].model_copy(update={"attempts": 2})
    latest = latest_by_case([*records, retried])
    assert len(latest) == 8 and latest[-1] is retried


def test_usage_and_cost_are_reported_only_when_known() -> None:
    usage = UsageTotals()
    usage.add({"cj": {"input_tokens": 1_000_000, "output_tokens": 200_000, "total_tokens": 1_200_000}})
    usage.add({}, {"cost_usd": {"merchant": 0.25}})
    assert usage.cost("cj", Prices(2.5, 10.0)) == 4.5
    assert usage.cost("cj", Prices()) is None  # tokens but no price: unknown, not zero
    assert usage.cost("merchant", Prices()) == 0.25  # reported by the provider
    assert usage.total_cost(Prices(2.5, 10.0)) == 4.75
    assert not UsageTotals().reported("cj") and UsageTotals().total_cost(Prices(1, 1)) is None


def test_summary_counts_the_latest_record_of_each_case(reference: Path) -> None:
    records = RunDir(reference).records()
    failed = RunRecord(case=records[0].case, status="failed", error="E: boom")
    summary = BatchSummary.from_records([failed, *records], cases=9)
    assert (summary.ok, summary.failed, summary.missing) == (8, 0, 1)
    assert summary.termination == {"merchant_done": 8}


def test_threads_mode_works_inside_a_running_event_loop(tmp_path: Path) -> None:
    import asyncio

    async def from_a_notebook():
        return run_batch(manifest(scenarios=["churn_spike"], workflows=["crisis_response"], seeds=[0]), tmp_path / "b",
                         jobs=2, evaluators=EVALUATORS, model_factory=lambda case: (None, None))  # fmt: skip

    assert asyncio.run(from_a_notebook()).summary.ok == 1
