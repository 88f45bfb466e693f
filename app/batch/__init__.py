"""Running conversations by the hundred: every case of a grid, scored, saved as it finishes.

This is the one part of evaluation that opens data providers and chat models and runs
conversations; it hands each finished transcript to the evaluators of :mod:`app.evaluation`.
A batch folder holds ``batch.json`` (what was asked) and ``transcripts.jsonl`` (one record per
case); :mod:`app.reporting` reads it.

Example:
    >>> from app.batch import batch_manifest, run_batch
    >>> manifest = batch_manifest("smoke", scenarios=["churn_spike"], merchants=["sarah_chen"],
    ...                           workflows=["crisis_response"], seeds=[0, 1])
    >>> result = run_batch(manifest, "runs/smoke", jobs=1)  # doctest: +SKIP
    >>> result.summary.ok  # doctest: +SKIP
    2
"""

from app.batch.records import BatchManifest, CaseKey, RunDir, RunRecord, latest_by_case
from app.batch.rescore import RescoreResult, rescore
from app.batch.run import BatchResult, batch_manifest, run_batch
from app.batch.runner import make_judge_model
from app.batch.summary import BatchSummary
from app.batch.usage import Prices
from app.retry import RetryPolicy

__all__ = [
    "batch_manifest",
    "run_batch",
    "BatchResult",
    "rescore",
    "RescoreResult",
    "RunDir",
    "RunRecord",
    "BatchManifest",
    "CaseKey",
    "latest_by_case",
    "BatchSummary",
    "RetryPolicy",
    "Prices",
    "make_judge_model",
]
