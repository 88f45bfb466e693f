"""Judge: rubric grading of CJ's replies by a chat model (LLM-as-judge).

Definition. The judge model reads the conversation (merchant and CJ turns; tool results
summarised to their first lines) and the rubric of ``data/evaluation.yaml`` ``judge.rubric``,
and returns a structured verdict -- pass or fail with a reason for each criterion -- through
``model.with_structured_output(JudgeVerdict)``. It is sampled ``n`` times; a criterion passes when
a strict majority of samples pass it (ties fail). Score = criteria passed / criteria; passed
when the score reaches ``judge.pass_threshold``. Votes only carry information when they can
differ: a judge made from a spec samples at :data:`SAMPLE_TEMPERATURE` when ``n > 1`` (a model
you pass yourself should too, or use ``n=1``). The tokens of every sample are added up in
``details["usage"]``, so a batch totals the judge's usage next to CJ's and the merchant's.

Without a model the result is skipped ("no judge model configured; pass --judge-model SPEC"),
never a made-up score; a model error also yields a skipped result naming the error.

Example: with criteria (helpfulness, relevance, tone, actionability) and n=3, samples passing
helpfulness 3/3, relevance 2/3, tone 1/3 and actionability 2/3 give score 0.75.

    >>> judge_evaluator().key
    'judge'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from app.catalog import Catalog
from app.errors import InvalidArgumentError, UnknownNameError
from app.evaluation.result import EvalResult
from app.formats.evaluation import JudgeSettings
from app.transcript import Transcript

__all__ = [
    "CriterionVerdict",
    "JudgeVerdict",
    "judge_evaluator",
    "DEFAULT_CRITERIA",
    "DEFAULT_SAMPLES",
    "SAMPLE_TEMPERATURE",
    "NO_JUDGE",
]

DEFAULT_CRITERIA = ("helpfulness", "relevance", "tone", "actionability")
DEFAULT_SAMPLES = 3
SAMPLE_TEMPERATURE = 0.7
"""Temperature of a judge model made from a spec when it takes more than one vote."""
NO_JUDGE = "no judge model configured; pass --judge-model SPEC"


class CriterionVerdict(BaseModel):
    """The judge's verdict on one criterion."""

    criterion: str = Field(description="The criterion's name, exactly as given in the rubric.")
    passed: bool = Field(description="Whether the conversation meets the criterion.")
    # required, without a default: strict JSON-schema endpoints reject schemas carrying defaults
    reason: str = Field(description="One sentence citing the conversation.")


class JudgeVerdict(BaseModel):
    """The judge's verdict on every criterion of the rubric."""

    verdicts: list[CriterionVerdict] = Field(description="One verdict per criterion of the rubric.")


_INSTRUCTIONS = (
    "You grade conversations between CJ, an AI copilot for subscription e-commerce merchants, and a merchant. "
    "Judge only CJ's replies. For each criterion below decide pass or fail and give a one-sentence reason.\n\n"
    "Criteria:\n{rubric}"
)


def _conversation_text(t: Transcript, limit: int) -> str:
    lines = [f"Merchant stress level: {t.merchant_context.get('stress_level', 'unknown')}"]
    for m in t.messages:
        if m.role == "merchant":
            lines.append(f"MERCHANT: {m.content}")
        elif m.role == "cj" and m.content:
            lines.append(f"CJ: {m.content}")
        elif m.role == "tool":
            head = m.content.strip().splitlines()[0] if m.content.strip() else ""
            lines.append(f"[tool {m.name} -> {m.status}: {head[:160]}]")
    text = "\n".join(lines)
    return text if len(text) <= limit else text[: limit - 20] + "\n[... truncated]"


class _JudgeEvaluator:
    key = "judge"

    def __init__(self, model: Any, n: int, criteria: tuple[str, ...], settings: JudgeSettings) -> None:
        self.model = model
        self.n = n
        self.criteria = criteria
        self.settings = settings
        self._structured: Any = None

    def __call__(self, *, transcript: Transcript) -> EvalResult:
        if self.model is None:
            return EvalResult.skip(self.key, NO_JUDGE)
        settings = self.settings
        rubric = "\n".join(f"- {c}: {settings.rubric[c]}" for c in self.criteria)
        prompt = [
            SystemMessage(_INSTRUCTIONS.format(rubric=rubric)),
            HumanMessage(_conversation_text(transcript, settings.max_transcript_chars)),
        ]
        usage: dict[str, int] = {}
        try:
            if self._structured is None:
                self._structured = self.model.with_structured_output(JudgeVerdict, include_raw=True)
            verdicts = [self._sample(prompt, usage) for _ in range(self.n)]
        except Exception as exc:  # any model or parsing failure: no score rather than a wrong one
            return EvalResult.skip(self.key, f"judge model failed: {type(exc).__name__}: {exc}"[:300])
        votes: dict[str, list[bool]] = {c: [] for c in self.criteria}
        reasons: dict[str, list[str]] = {c: [] for c in self.criteria}
        for verdict in verdicts:
            given = {v.criterion.strip().lower(): v for v in verdict.verdicts}
            for c in self.criteria:
                v = given.get(c)
                votes[c].append(bool(v and v.passed))  # a criterion the judge skipped counts as failed
                if v and v.reason:
                    reasons[c].append(v.reason)
        passed_criteria = {c: sum(vs) * 2 > len(vs) for c, vs in votes.items()}
        score = sum(passed_criteria.values()) / len(self.criteria)
        details = {
            "criteria": {
                c: {"passed": passed_criteria[c], "votes": votes[c], "reasons": reasons[c]} for c in self.criteria
            },
            "samples": self.n,
        }
        if usage:
            details["usage"] = usage
        failed = [c for c, ok in passed_criteria.items() if not ok]
        comment = f"{len(self.criteria) - len(failed)}/{len(self.criteria)} criteria passed" + (
            f"; failed: {', '.join(failed)}" if failed else ""
        )
        return EvalResult(
            key=self.key, score=score, passed=score >= settings.pass_threshold, comment=comment, details=details
        )


    def _sample(self, prompt: list[Any], usage: dict[str, int]) -> JudgeVerdict:
        """One vote; its reported tokens are added to ``usage``."""
        out = self._structured.invoke(prompt)
        if not (isinstance(out, dict) and "parsed" in out):  # a model whose structured output ignores include_raw
            return out if isinstance(out, JudgeVerdict) else JudgeVerdict.model_validate(out)
        reported = getattr(out.get("raw"), "usage_metadata", None) or {}
        for key in ("input_tokens", "output_tokens", "total_tokens"):
            if key in reported:
                usage[key] = usage.get(key, 0) + int(reported[key] or 0)
        if out.get("parsing_error") is not None:
            raise out["parsing_error"]
        parsed = out["parsed"]
        if parsed is None:
            raise ValueError("the judge's reply held no verdict")
        return parsed if isinstance(parsed, JudgeVerdict) else JudgeVerdict.model_validate(parsed)


def judge_evaluator(
    model: Any = None,
    *,
    n: int = DEFAULT_SAMPLES,
    criteria: Sequence[str] = DEFAULT_CRITERIA,
    catalog: Catalog | None = None,
) -> _JudgeEvaluator:
    """Evaluator ``judge``: majority-vote rubric grading by ``model`` (any langchain-core chat model).

    Args:
        model: the judge chat model; ``None`` makes every result skipped. Evaluators do not build
            models: make one from a spec with :func:`app.batch.make_judge_model`.
        n: samples per transcript (majority vote per criterion); at least 1.
        criteria: rubric criteria to grade, names from ``judge.rubric`` in ``data/evaluation.yaml``.
        catalog: the evaluation settings with the rubric (default: ``Catalog.default()``).
    """
    if isinstance(model, str):
        raise InvalidArgumentError(
            f"the judge needs a chat model, got the model spec {model!r}; "
            f"make the model with app.batch.make_judge_model({model!r})"
        )
    if n < 1:
        raise InvalidArgumentError(f"judge samples n must be at least 1, got {n}")
    settings = (catalog or Catalog.default()).evaluation.judge
    rubric = settings.rubric
    chosen = tuple(criteria)
    if not chosen:
        raise InvalidArgumentError(f"give at least one judge criterion; valid: {', '.join(rubric)}")
    for c in chosen:
        if c not in rubric:
            raise UnknownNameError("judge criterion", c, rubric)
    return _JudgeEvaluator(model, n, chosen, settings)
