"""Batch runs: every (scenario, merchant, workflow, seed) case of a grid, scored, saved as it finishes.

A batch folder holds ``batch.json`` (the :class:`~app.batch.records.BatchManifest`: what
was asked) and ``transcripts.jsonl`` (one :class:`~app.batch.records.RunRecord` per case,
appended, flushed and fsynced the moment the case is scored). Only the calling process writes,
and only while it holds the folder's lock: a second batch, re-scoring or repair of the same folder
is refused, naming the PID of the process that holds it.

Resuming (``resume=True``) runs the cases that have no ``ok`` record: cases never run (the
batch was killed; a torn last line is dropped first) and cases that failed. A failed record
stays in the file while its case is rerun; once the rerun's record is safely written the file
is rewritten atomically with only the newest record of each case, so a crash at any point
leaves every finished conversation on disk. Resuming refuses a manifest whose arguments
differ, naming each difference.

Example:
    >>> manifest = batch_manifest("smoke", scenarios=["churn_spike"], merchants=["sarah_chen"],
    ...                           workflows=["crisis_response", "daily_briefing"], seeds=[0, 1])
    >>> result = run_batch(manifest, "runs/smoke", jobs=2)  # doctest: +SKIP
    >>> result.summary.ok, result.summary.failed  # doctest: +SKIP
    (4, 0)
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.batch.execution import run_in_process, run_on_executor, run_on_threads
from app.batch.progress import BatchProgress, NullProgress
from app.batch.records import BatchManifest, RunDir, RunRecord, latest_by_case
from app.batch.runner import CaseRunner, CaseSettings, ModelFactory, is_network_spec, make_judge_model
from app.batch.summary import BatchSummary
from app.catalog import Catalog
from app.errors import DataFileError, InvalidArgumentError, ProviderError, UnknownNameError
from app.evaluation.result import Evaluator
from app.execution import Executor, LocalExecutor
from app.model_specs import check_timeout
from app.outcomes import MAX_OUTCOME_DAYS
from app.retry import RetryPolicy

__all__ = [
    "BatchResult",
    "batch_manifest",
    "run_batch",
    "manifest_differences",
    "execution_mode",
    "default_jobs",
    "resolve_evaluator_keys",
    "MAX_JOBS",
]

MAX_JOBS = 256

_NEEDS_DATABASE = "the production provider needs a database: give db_url, the database's URL"

_COMPARED = ("scenarios", "merchants", "workflows", "seeds", "cj_model", "merchant_model", "max_turns", "provider",
             "evaluators", "judge_model", "outcome_days")  # fmt: skip


def default_jobs() -> int:
    """Parallel workers by default: one per CPU."""
    return os.cpu_count() or 1


@dataclass
class BatchResult:
    """What :func:`run_batch` did.

    Attributes:
        path: the batch folder.
        manifest: the batch's manifest as saved.
        summary: counts over the newest record of every case (including earlier runs when resuming).
        ran: cases run this time.
        mode: how they ran (``in_process``, ``processes``, ``ray`` or ``threads``).
    """

    path: Path
    manifest: BatchManifest
    summary: BatchSummary
    ran: int
    mode: str


# --------------------------------------------------------------------------- the manifest


def _dedupe(items: Sequence[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


def _resolve(names: Sequence[str] | str, every: list[str], lookup: Any, kind: str) -> list[str]:
    if isinstance(names, str):
        names = every if names == "all" else [n.strip() for n in names.split(",") if n.strip()]
    resolved = _dedupe([lookup(n) for n in names])
    if not resolved:
        raise InvalidArgumentError(f"no {kind}s given; pass 'all' or a comma-separated list")
    return resolved


def batch_manifest(
    name: str,
    *,
    scenarios: Sequence[str] | str = "all",
    merchants: Sequence[str] | str = "all",
    workflows: Sequence[str] | str = "all",
    seeds: Sequence[int] = (0,),
    cj_model: str = "rules",
    merchant_model: str = "script",
    max_turns: int = 8,
    provider: str = "data_agent",
    db_url: str | None = None,
    evaluators: Sequence[str] | None = None,
    judge_model: str | None = None,
    catalog: Catalog | None = None,
    outcome_days: int | None = None,
) -> BatchManifest:
    """A validated manifest: names resolved to ids (``"all"`` expands), specs and ranges checked.

    Args:
        name: the batch's name (its folder name, by convention).
        scenarios / merchants / workflows: ``"all"``, a comma-separated string or a list of names.
        seeds: world seeds (non-negative; duplicates dropped).
        evaluators: evaluator keys (default: every registered evaluator).
        db_url: for ``provider="production"``; stored with its password masked.
        outcome_days: measure each conversation's interventions over this many days of its world's
            future (generated worlds only; :mod:`app.outcomes`).
        catalog: the data folder the names refer to (default: ``Catalog.default()``).

    Raises:
        UnknownNameError: a name, provider or evaluator that does not exist (the message lists the valid ones).
        InvalidArgumentError: bad seeds, turns or model specs.
    """
    from app.model_specs import parse_spec
    from app.storage.url import mask_url

    catalog = catalog or Catalog.default()
    seeds = _dedupe(seeds)
    if not seeds:
        raise InvalidArgumentError("no seeds given; use e.g. 0-9, 1,4,7 or 3")
    if any(not isinstance(s, int) or s < 0 for s in seeds):
        raise InvalidArgumentError(f"seeds must be non-negative integers, got {seeds}")
    if not 1 <= max_turns <= 100:
        raise InvalidArgumentError(f"turns must be between 1 and 100, got {max_turns}")
    if outcome_days is not None and not 1 <= outcome_days <= MAX_OUTCOME_DAYS:
        raise InvalidArgumentError(f"outcome days must be between 1 and {MAX_OUTCOME_DAYS}, got {outcome_days}")
    if outcome_days is not None and provider == "production":
        raise InvalidArgumentError("outcome days need generated worlds (their future is the counterfactual); a "
                                   "database has no future to measure against")  # fmt: skip
    for spec in (cj_model, merchant_model, judge_model):
        if spec is not None:
            parse_spec(spec)
    if provider not in ("data_agent", "production"):
        raise UnknownNameError("provider", provider, ["data_agent", "production"])
    if provider == "production" and not db_url:
        raise ProviderError(_NEEDS_DATABASE)
    keys = resolve_evaluator_keys(evaluators)
    return BatchManifest(
        name=name,
        scenarios=_resolve(scenarios, catalog.scenarios.names(), lambda n: catalog.scenarios.get(n).id, "scenario"),
        merchants=_resolve(merchants, catalog.personas.names(), lambda n: catalog.personas.get(n).id, "merchant"),
        workflows=_resolve(
            workflows, catalog.workflows.names(), lambda n: catalog.workflows.get(n).name, "workflow"
        ),
        seeds=sorted(seeds),
        cj_model=cj_model,
        merchant_model=merchant_model,
        max_turns=max_turns,
        provider={"name": provider, "url": mask_url(db_url)} if provider == "production" else {"name": provider},
        evaluators=keys,
        judge_model=judge_model,
        outcome_days=outcome_days,
    )


def resolve_evaluator_keys(keys: Sequence[str] | str | None) -> list[str]:
    """Evaluator keys checked against the registry; ``None`` or ``"all"`` means every evaluator."""
    from app.evaluation.registry import EVALUATOR_KEYS

    if keys is None or keys == "all":
        return list(EVALUATOR_KEYS)
    if isinstance(keys, str):
        keys = [k.strip() for k in keys.split(",") if k.strip()]
    for key in keys:
        if key not in EVALUATOR_KEYS:
            raise UnknownNameError("evaluator", key, EVALUATOR_KEYS)
    if not keys:
        raise InvalidArgumentError("no evaluators given; pass 'all' or a comma-separated list of keys")
    return _dedupe(keys)


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "(none)"
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items() if v is not None)
    return repr(value)


def manifest_differences(saved: BatchManifest, asked: BatchManifest) -> list[str]:
    """``field: saved -> asked`` for every argument that differs (names, created_at are not arguments)."""
    out = []
    for name in _COMPARED:
        before, now = getattr(saved, name), getattr(asked, name)
        if before != now:
            out.append(f"{name.replace('_', '-')} {_show(before)} (now {_show(now)})")
    return out


# --------------------------------------------------------------------------- running


def execution_mode(manifest: BatchManifest, jobs: int, model_factory: ModelFactory | None = None,
                   executor: Executor | str | None = None) -> str:  # fmt: skip
    """``threads`` for network models (or injected model objects), ``ray`` on a Ray executor, else
    ``in_process`` (one worker) or ``processes``. ``executor`` may be an executor or its name.

    Raises:
        InvalidArgumentError: network models (or model objects) with a Ray executor.
    """
    network = any(is_network_spec(s) for s in (manifest.cj_model, manifest.merchant_model, manifest.judge_model))
    ray = (executor if isinstance(executor, str) or executor is None else executor.name) == "ray"
    if network or model_factory is not None:
        if ray:
            raise InvalidArgumentError("the Ray executor runs offline models (rules, script); network models run on "
                                       "threads in this process: drop --executor ray")  # fmt: skip
        return "threads"
    if ray:
        return "ray"
    workers = executor.workers if isinstance(executor, Executor) else jobs
    return "in_process" if workers == 1 else "processes"


def _check_jobs(jobs: int) -> int:
    if not isinstance(jobs, int) or not 1 <= jobs <= MAX_JOBS:
        raise InvalidArgumentError(f"jobs must be between 1 and {MAX_JOBS}, got {jobs}")
    return jobs


def _preflight(
    manifest: BatchManifest, settings: CaseSettings, factory: ModelFactory | None, catalog: Catalog
) -> None:
    """Fail before the first conversation on what would fail every case: names, models, database."""
    from app.model_specs import make_cj_model, make_merchant_model

    for name in manifest.scenarios:
        catalog.scenarios.get(name)
    for name in manifest.merchants:
        catalog.personas.get(name)
    for name in manifest.workflows:
        catalog.workflows.get(name)
    timeout = settings.model_timeout
    if factory is None:
        make_cj_model(manifest.cj_model, catalog=catalog, timeout=timeout)
        persona, scenario = catalog.personas.get(manifest.merchants[0]), catalog.scenarios.get(manifest.scenarios[0])
        make_merchant_model(manifest.merchant_model, persona, scenario, catalog=catalog, timeout=timeout)
    if manifest.judge_model:
        make_judge_model(manifest.judge_model, timeout=timeout)
    if settings.provider == "production":
        from app.providers.production import ProductionDataProvider

        # bad URL, unreachable server, wrong schema, a user that can write
        ProductionDataProvider(settings.db_url or "", allow_writable_user=settings.allow_writable_user).close()


def _check_folder(run_dir: RunDir, manifest: BatchManifest, resume: bool) -> BatchManifest | None:
    """The saved manifest when resuming (arguments checked), ``None`` for a new batch."""
    if run_dir.path.exists() and not run_dir.path.is_dir():
        raise InvalidArgumentError(f"{run_dir.path} is a file; a batch is written into a folder")
    if not run_dir.exists():
        return None
    if not resume:
        raise InvalidArgumentError(
            f"{run_dir.path} already holds a batch (nothing was overwritten); resume it to finish it "
            "(resume=True), or run the batch into another folder"
        )
    saved = run_dir.read_manifest()
    if saved is None:
        raise DataFileError(f"{run_dir.manifest_path} is missing, so {run_dir.path} cannot be resumed")
    differences = manifest_differences(saved, manifest)
    if differences:
        raise InvalidArgumentError(
            f"{run_dir.path} was started with other arguments: {'; '.join(differences)}. "
            "Resume with the original arguments, or run the batch into another folder"
        )
    return saved


def run_batch(
    manifest: BatchManifest,
    out: str | Path | RunDir,
    *,
    jobs: int | None = None,
    resume: bool = False,
    db_url: str | None = None,
    evaluators: Sequence[Evaluator] | None = None,
    progress: BatchProgress | None = None,
    model_factory: ModelFactory | None = None,
    retry: RetryPolicy | None = None,
    allow_writable_user: bool = False,
    model_timeout: float | None = None,
    catalog: Catalog | None = None,
    executor: Executor | None = None,
) -> BatchResult:
    """Run a batch into ``out`` and return its summary.

    Args:
        manifest: the grid and models (see :func:`batch_manifest`).
        out: the batch folder; it must not hold a batch unless ``resume``.
        jobs: parallel workers (default: CPU count); ``1`` runs offline models in this process.
        resume: run only the cases without an ``ok`` record, after checking the arguments match.
        db_url: the unmasked database URL when the manifest's provider is ``production``.
        evaluators: evaluator objects instead of the manifest's keys (with processes they are
            inherited by forked workers; on platforms without fork they must be picklable).
        progress: receives each finished record (default: nothing is shown).
        model_factory: chat-model objects per case instead of the specs; runs on threads.
        retry: transient-error policy for network models (default: :class:`RetryPolicy`).
        allow_writable_user: accept a production database user that could write.
        model_timeout: seconds per network model request when a spec sets none (default
            :data:`~app.model_specs.DEFAULT_TIMEOUT_S`).
        catalog: the data folder of every case, read once for the whole batch (default:
            ``Catalog.default()``).
        executor: where offline models run (default: ``jobs`` local processes); the caller shuts it
            down. A :class:`~app.execution.RayExecutor` gives the same records as local processes.

    Raises:
        InvalidArgumentError: ``out`` holds a batch and ``resume`` is false; arguments differ on resume;
            bad ``jobs``; ``out`` cannot be written; network models on a Ray executor.
        RunLockedError: another process is writing to ``out`` (the message names its PID).
        DataFileError: a malformed ``batch.json`` or ``transcripts.jsonl``.
        UnknownNameError: a scenario, merchant or workflow of the manifest that ``catalog`` lacks.
        ProviderError: the production database cannot be used.
        WritableUserError: its user can write and ``allow_writable_user`` is false.
    """
    jobs = _check_jobs(default_jobs() if jobs is None else jobs)
    if model_timeout is not None:
        check_timeout(model_timeout)
    catalog = catalog or Catalog.default()
    run_dir = out if isinstance(out, RunDir) else RunDir(out)
    if evaluators is not None:
        manifest = manifest.model_copy(update={"evaluators": [e.key for e in evaluators]})
    if manifest.provider.get("name") == "production" and not db_url:
        raise ProviderError(_NEEDS_DATABASE)
    settings = CaseSettings(
        cj_model=manifest.cj_model,
        merchant_model=manifest.merchant_model,
        max_turns=manifest.max_turns,
        provider=str(manifest.provider.get("name", "data_agent")),
        db_url=db_url,
        evaluator_keys=tuple(manifest.evaluators),
        judge_model=manifest.judge_model,
        allow_writable_user=allow_writable_user,
        model_timeout=model_timeout,
        outcome_days=manifest.outcome_days,
    )
    execution_mode(manifest, jobs, model_factory, executor)  # network models on Ray: refused before anything runs
    _check_folder(run_dir, manifest, resume)  # fail fast, before models and database are opened
    _preflight(manifest, settings, model_factory, catalog)
    with run_dir.lock("batch"):
        # checked again under the lock: another writer may have started this folder meanwhile
        saved = _check_folder(run_dir, manifest, resume)
        return _run_locked(
            manifest, saved, run_dir, settings, jobs, evaluators, progress, model_factory, retry, catalog, executor
        )


def _run_locked(
    manifest: BatchManifest,
    saved: BatchManifest | None,
    run_dir: RunDir,
    settings: CaseSettings,
    jobs: int,
    evaluators: Sequence[Evaluator] | None,
    progress: BatchProgress | None,
    model_factory: ModelFactory | None,
    retry: RetryPolicy | None,
    catalog: Catalog,
    executor: Executor | None,
) -> BatchResult:
    if saved is None:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        manifest = manifest.model_copy(update={"created_at": manifest.created_at or now})
        run_dir.write_manifest(manifest)
    else:
        manifest = saved
    if run_dir.has_torn_tail():
        run_dir.rewrite(run_dir.records())  # drop the torn line so appends start on a fresh line

    earlier = run_dir.records()
    finished = {r.case.id for r in latest_by_case(earlier) if r.status == "ok"}
    cases = manifest.cases()
    todo = [c for c in cases if c.id not in finished]
    mode = execution_mode(manifest, jobs, model_factory, executor)
    progress = progress or NullProgress()
    new: list[RunRecord] = []

    def sink(record: RunRecord) -> None:
        run_dir.append(record)
        new.append(record.model_copy(update={"transcript": _light(record)}))
        progress.advance(record)

    def start() -> None:
        progress.start(len(cases), len(cases) - len(todo), f"batch {manifest.name}")

    try:
        if not todo:
            start()
        elif mode == "in_process":
            start()
            run_in_process(todo, CaseRunner(settings, catalog=catalog, evaluators=evaluators), sink)
        elif mode in ("processes", "ray"):
            # an executor given by the caller stays open (it is theirs); the default pool is closed here
            with nullcontext(executor) if executor is not None else LocalExecutor(jobs) as ex:
                run_on_executor(todo, settings, sink, executor=ex, catalog=catalog, evaluators=evaluators, on_start=start)
        else:
            start()
            policy = retry or RetryPolicy()
            run_on_threads(
                todo,
                lambda: CaseRunner(
                    settings, catalog=catalog, evaluators=evaluators, model_factory=model_factory, retry=policy
                ),
                sink,
                jobs=jobs,
            )
    finally:
        progress.finish()

    rerun = {r.case.id for r in new}
    if any(r.case.id in rerun for r in earlier):
        # reruns are on disk: drop the failures they supersede, in one atomic rewrite
        run_dir.rewrite(latest_by_case(run_dir.records()))
    kept = [r for r in latest_by_case(earlier) if r.case.id not in rerun]
    summary = BatchSummary.from_records([*kept, *new], cases=len(cases))
    return BatchResult(path=run_dir.path, manifest=manifest, summary=summary, ran=len(todo), mode=mode)


def _light(record: RunRecord) -> Any:
    """The transcript without its messages: the summary needs only the ending and the usage."""
    t = record.transcript
    return None if t is None else t.model_copy(update={"messages": []})
