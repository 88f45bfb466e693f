"""Running one batch case: world (or database), models, conversation, scores -> a RunRecord.

A :class:`CaseRunner` lives in one worker (a process of the pool, a thread, or the caller) and
keeps what is expensive to make between cases: the data catalog (read once per batch), the last
world it generated (a batch sends all workflows of one world to the same worker, back to back),
its own connection to a production database, and its evaluators. A case that raises becomes a ``failed`` record with the error's
type and message; it never stops the batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel

from app.batch.records import CaseKey, RunRecord
from app.catalog import Catalog
from app.errors import InvalidArgumentError
from app.evaluation.result import Evaluator
from app.model_specs import is_network_spec, make_chat_model
from app.retry import RetryingModel, RetryPolicy, RetryStats

__all__ = ["CaseSettings", "CaseRunner", "ModelFactory", "is_network_spec", "make_judge_model", "error_text"]

ModelFactory = Callable[[CaseKey], tuple[BaseChatModel | None, BaseChatModel | None]]
"""``factory(case) -> (cj_model, merchant_model)``; ``None`` keeps the model the spec names.

Used to run a batch with chat-model objects instead of specs (scripted fakes in tests, a
custom client). It is called from worker threads, so it must be thread-safe.
"""


def make_judge_model(spec: str, *, timeout: float | None = None, samples: int | None = None) -> BaseChatModel:
    """The chat model judge evaluators use: a provider model, or ``replay:FILE`` (recorded replies, offline).

    It samples at :data:`~app.evaluation.judge.SAMPLE_TEMPERATURE` when the judge takes several
    votes (identical votes would cost n calls and say nothing more), at 0 for a single vote.

    Args:
        spec: a provider model spec.
        timeout: seconds per request when the spec sets none.
        samples: votes per transcript (default: the judge's default).
    """
    from app.evaluation.judge import DEFAULT_SAMPLES, SAMPLE_TEMPERATURE
    from app.model_specs import parse_spec

    parsed = parse_spec(spec)
    if parsed.kind == "replay":  # recorded replies: the offline judge
        from app.policies.replay import load_replay_model

        return load_replay_model(parsed.variant or "")
    if not is_network_spec(spec):
        raise InvalidArgumentError(
            f"the judge needs a provider model such as openai:gpt-4o-mini (or replay:FILE of recorded replies), got {spec!r}"
        )
    votes = DEFAULT_SAMPLES if samples is None else samples
    return make_chat_model(spec, temperature=SAMPLE_TEMPERATURE if votes > 1 else 0.0, timeout=timeout)


def error_text(exc: BaseException) -> str:
    """``Type: message`` of an exception, as recorded in a failed record."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


@dataclass(frozen=True)
class CaseSettings:
    """Everything about a batch a worker needs to run any of its cases (picklable).

    ``db_url`` is the real URL (the manifest keeps only the masked one); ``allow_writable_user``
    accepts a database user that could write (see :class:`ProductionDataProvider`);
    ``model_timeout`` is the request timeout of network models whose spec sets none.
    """

    cj_model: str = "rules"
    merchant_model: str = "script"
    max_turns: int = 8
    provider: str = "data_agent"
    db_url: str | None = None
    evaluator_keys: tuple[str, ...] | None = None
    judge_model: str | None = None
    allow_writable_user: bool = False
    model_timeout: float | None = None
    outcome_days: int | None = None


class CaseRunner:
    """Runs cases one at a time in one worker, reusing its world, database connection and evaluators.

    Args:
        settings: models, turns, provider and evaluators of the batch.
        catalog: the data folder every case reads (default: ``Catalog.default()``).
        evaluators: evaluator objects to use instead of ``settings.evaluator_keys``.
        model_factory: chat-model objects per case (see :data:`ModelFactory`).
        retry: when set, every model call is retried on transient errors with this policy.

    Example:
        >>> runner = CaseRunner(CaseSettings(), evaluators=[])
        >>> runner.run(CaseKey(scenario="churn_spike", merchant="sarah_chen", workflow="crisis_response", seed=0)).status
        'ok'
    """

    def __init__(
        self,
        settings: CaseSettings,
        *,
        catalog: Catalog | None = None,
        evaluators: Sequence[Evaluator] | None = None,
        model_factory: ModelFactory | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog or Catalog.default()
        self.model_factory = model_factory
        self.retry = retry
        self._evaluators = list(evaluators) if evaluators is not None else None
        self._world_key: tuple[str, str, int] | None = None
        self._world: Any = None
        self._database: Any = None

    # ------------------------------------------------------------------ resources

    def evaluators(self) -> list[Evaluator]:
        """The evaluators of this worker (built on first use)."""
        if self._evaluators is None:
            from app.evaluation.registry import default_evaluators

            judge: Any = None
            if self.settings.judge_model:
                judge = make_judge_model(self.settings.judge_model, timeout=self.settings.model_timeout)
                if self.retry is not None:
                    judge = RetryingModel(judge, self.retry)
            keys = list(self.settings.evaluator_keys) if self.settings.evaluator_keys is not None else None
            self._evaluators = default_evaluators(judge_model=judge, keys=keys, catalog=self.catalog)
        return self._evaluators

    def provider(self, case: CaseKey) -> Any:
        """The case's data: its generated world (kept for the next case of the same world) or the database."""
        if self.settings.provider == "production":
            if self._database is None:
                from app.providers.cache import workflow_ttls
                from app.providers.production import ProductionDataProvider

                self._database = ProductionDataProvider(
                    self.settings.db_url or "",
                    ttl=workflow_ttls(self.catalog.workflows.refresh_seconds),
                    allow_writable_user=self.settings.allow_writable_user,
                )
            return self._database
        key = (case.scenario, case.merchant, case.seed)
        if key != self._world_key:
            from app.providers.data_agent import DataAgent

            self._world_key, self._world = None, None  # a failed generation must not leave a stale world
            self._world = DataAgent.create(case.scenario, case.merchant, seed=case.seed, catalog=self.catalog)
            self._world_key = key
        return self._world

    # ------------------------------------------------------------------ running

    def _models(self, case: CaseKey) -> tuple[Any, Any, str, str]:
        s = self.settings
        cj, merchant = self.model_factory(case) if self.model_factory is not None else (None, None)
        cj_label = s.cj_model if cj is None else type(cj).__name__
        merchant_label = s.merchant_model if merchant is None else type(merchant).__name__
        return cj, merchant, cj_label, merchant_label

    def run(self, case: CaseKey) -> RunRecord:
        """Run and score one case; any exception becomes a ``failed`` record."""
        from app.simulation import RunConfig, run_conversation

        started = time.perf_counter()
        stats = RetryStats()

        def failed(error: str) -> RunRecord:
            return RunRecord(
                case=case,
                status="failed",
                error=error,
                duration_s=round(time.perf_counter() - started, 3),
                attempts=1 + stats.retries,
            )

        s = self.settings
        cfg = RunConfig(
            scenario=case.scenario,
            merchant=case.merchant,
            workflow=case.workflow,
            seed=case.seed,
            max_turns=s.max_turns,
            cj_model=s.cj_model,
            merchant_model=s.merchant_model,
            model_timeout=s.model_timeout,
            catalog=self.catalog,
            outcome_days=s.outcome_days,
        )
        try:
            cj, merchant, cj_label, merchant_label = self._models(case)
            transcript = run_conversation(
                cfg, provider=self.provider(case), cj_model=cj, merchant_model=merchant, retry=self.retry, retry_stats=stats
            )
        except Exception as exc:  # recorded, and the batch goes on
            return failed(error_text(exc))
        if stats.gave_up is not None:
            # the graph ended the conversation as agent_error; a rerun may succeed, so it is a failure
            return failed(f"{error_text(stats.gave_up)} (gave up after {stats.gave_up_after} attempts)")
        transcript.meta.update(cj_model=cj_label, merchant_model=merchant_label)
        try:
            from app.evaluation.registry import evaluate

            scores = evaluate(transcript, self.evaluators())
        except Exception as exc:
            return failed(f"evaluation: {error_text(exc)}")
        return RunRecord(
            case=case,
            status="ok",
            transcript=transcript,
            scores=scores,
            duration_s=round(time.perf_counter() - started, 3),
            attempts=1 + stats.retries,
        )
