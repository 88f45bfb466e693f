"""Re-scoring a saved batch (after an evaluator changed, or with other evaluators or a judge).

Every ``ok`` record's transcript is evaluated again by the chosen evaluators and their results
are merged into the record: a chosen evaluator's old result is replaced in place, a new one is
appended, and every other evaluator's result is kept untouched (``cjsim eval runs/x
--evaluators judge`` adds the judge and loses nothing). ``transcripts.jsonl`` is rewritten in one
atomic replace; failed records are kept as they are (resuming the batch reruns them). The
manifest then names every evaluator whose scores the records hold. Re-scoring holds the folder's lock,
so it is refused while a batch is still writing to the folder.

Example:
    >>> result = rescore("runs/nightly", keys=["grounding", "tool_use"])  # doctest: +SKIP
    >>> result.summary.evaluators["grounding"].pass_rate  # doctest: +SKIP
    0.97
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from app.batch.progress import BatchProgress, NullProgress
from app.batch.records import BatchManifest, RunDir, RunRecord
from app.batch.runner import make_judge_model
from app.batch.summary import BatchSummary
from app.catalog import Catalog
from app.errors import InvalidArgumentError
from app.evaluation.result import EvalResult, Evaluator
from app.model_specs import check_timeout
from app.retry import RetryingModel, RetryPolicy

__all__ = ["RescoreResult", "rescore", "merge_scores"]


def merge_scores(old: Sequence[EvalResult], new: Sequence[EvalResult]) -> list[EvalResult]:
    """``old`` with each result of ``new`` replacing the one of the same key in place, or appended.

    Results of evaluators not in ``new`` are kept as they were, in their order.
    """
    fresh = {r.key: r for r in new}
    merged = [fresh.pop(r.key, r) for r in old]
    return [*merged, *(r for r in new if r.key in fresh)]


@dataclass
class RescoreResult:
    """What :func:`rescore` did: ``rescored`` ok records, ``kept`` failed ones, the new summary."""

    path: Path
    manifest: BatchManifest | None
    summary: BatchSummary
    rescored: int
    kept: int
    evaluators: list[str]


def rescore(
    out: str | Path | RunDir,
    *,
    keys: Sequence[str] | str | None = None,
    judge_model: str | None = None,
    evaluators: Sequence[Evaluator] | None = None,
    jobs: int = 1,
    progress: BatchProgress | None = None,
    retry: RetryPolicy | None = None,
    model_timeout: float | None = None,
    catalog: Catalog | None = None,
) -> RescoreResult:
    """Score every saved conversation of a batch again and rewrite its records atomically.

    Args:
        out: the batch folder.
        keys: evaluator keys, a comma-separated string or ``"all"`` (default: the manifest's, else all).
        judge_model: model spec for judge evaluators (default: the manifest's).
        evaluators: evaluator objects instead of ``keys``/``judge_model``.
        jobs: transcripts scored at once (threads; useful with a judge model).
        progress: receives each re-scored record.
        retry: transient-error policy for the judge model.
        model_timeout: seconds per judge request when its spec sets none.
        catalog: the data folder the evaluators judge by (default: ``Catalog.default()``).

    Raises:
        InvalidArgumentError: the folder holds no batch; bad ``jobs``.
        DataFileError: a malformed ``batch.json`` or ``transcripts.jsonl``.
        UnknownNameError: an unknown evaluator key.
        RunLockedError: another process is writing to the folder.
    """
    from app.batch.run import MAX_JOBS

    if not 1 <= jobs <= MAX_JOBS:
        raise InvalidArgumentError(f"jobs must be between 1 and {MAX_JOBS}, got {jobs}")
    if model_timeout is not None:
        check_timeout(model_timeout)
    run_dir = (out if isinstance(out, RunDir) else RunDir(out)).require()
    with run_dir.lock("eval"):
        return _rescore_locked(run_dir, keys, judge_model, evaluators, jobs, progress, retry, model_timeout, catalog)


def _rescore_locked(
    run_dir: RunDir,
    keys: Sequence[str] | str | None,
    judge_model: str | None,
    evaluators: Sequence[Evaluator] | None,
    jobs: int,
    progress: BatchProgress | None,
    retry: RetryPolicy | None,
    model_timeout: float | None,
    catalog: Catalog | None,
) -> RescoreResult:
    from app.batch.run import resolve_evaluator_keys
    from app.evaluation.registry import default_evaluators, evaluate

    manifest = run_dir.read_manifest()
    records = run_dir.records()
    if evaluators is None:
        if keys is None and manifest is not None and manifest.evaluators:
            keys = manifest.evaluators
        chosen = resolve_evaluator_keys(keys)
        judge_spec = judge_model if judge_model is not None else (manifest.judge_model if manifest else None)
        judge = None
        if judge_spec:
            judge = RetryingModel(make_judge_model(judge_spec, timeout=model_timeout), retry or RetryPolicy())
        evaluators = default_evaluators(judge_model=judge, keys=chosen, catalog=catalog)
    else:
        chosen, judge_spec = [e.key for e in evaluators], judge_model
    progress = progress or NullProgress()

    def score(record: RunRecord) -> RunRecord:
        if record.status != "ok" or record.transcript is None:
            return record
        return record.model_copy(update={"scores": merge_scores(record.scores, evaluate(record.transcript, evaluators))})

    progress.start(len(records), 0, f"eval {run_dir.path.name}")
    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            rescored = []
            for record in pool.map(score, records):  # keeps file order
                rescored.append(record)
                progress.advance(record)
    finally:
        progress.finish()
    run_dir.rewrite(rescored)
    if manifest is not None:
        held = [*manifest.evaluators, *chosen] if manifest.evaluators else list(chosen)
        judge_kept = judge_spec if "judge" in chosen else manifest.judge_model
        manifest = manifest.model_copy(update={"evaluators": list(dict.fromkeys(held)), "judge_model": judge_kept})
        run_dir.write_manifest(manifest)
    ok = sum(r.status == "ok" and r.transcript is not None for r in rescored)
    return RescoreResult(
        path=run_dir.path,
        manifest=manifest,
        summary=BatchSummary.from_records(rescored, cases=len(manifest.cases()) if manifest else 0),
        rescored=ok,
        kept=len(rescored) - ok,
        evaluators=list(chosen),
    )
