"""The one result type every evaluator returns, and the evaluator call signature."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from app.transcript import Transcript

__all__ = ["EvalResult", "Evaluator"]


class EvalResult(BaseModel):
    """An evaluator's verdict on one transcript.

    ``score`` is in [0, 1]; ``passed`` applies the evaluator's threshold. An evaluator that cannot
    run (a judge without a judge model) returns ``skipped=True`` with ``score`` and ``passed``
    left ``None`` -- never a made-up number. ``details`` holds the evidence (for ``grounding``,
    every claim with its source or ``"ungrounded"``).
    """

    model_config = ConfigDict(extra="forbid")

    key: str
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    passed: bool | None = None
    comment: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    skipped: bool = False

    @classmethod
    def skip(cls, key: str, reason: str) -> EvalResult:
        """A result for an evaluator that could not run, with the reason as its comment."""
        return cls(key=key, skipped=True, comment=reason)


class Evaluator(Protocol):
    """A keyword-only callable built by a factory: ``evaluator(transcript=t) -> EvalResult``."""

    key: str

    def __call__(self, *, transcript: Transcript) -> EvalResult: ...
