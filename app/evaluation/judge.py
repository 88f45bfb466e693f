"""Judge: rubric grading of CJ's replies by a chat model (LLM-as-judge).

Definition. The judge model reads the conversation with the tool results CJ saw (within stated
character budgets, :mod:`app.evaluation.judge_prompt`) and the rubric of each criterion from
``data/rubrics.yaml`` (question, pass and fail conditions, graded few-shot examples), and returns
a verdict -- pass or fail with a reason -- for every criterion. Each criterion is a separate
scored item. It is sampled ``n`` times; a criterion's score is the share of votes that pass it,
and it passes on a strict majority (ties fail). Score = criteria passed / criteria; passed when
the score reaches ``judge.pass_threshold``. Votes only carry information when they can differ: a
judge made from a provider spec samples at :data:`SAMPLE_TEMPERATURE` when ``n > 1``. The tokens
of every sample are added up in ``details["usage"]``.

Reading the verdict. A model with structured output answers through it; otherwise (or when the
structured answer is missing) the reply's text is read as the JSON the prompt asks for. A reply
that cannot be read -- plain prose, malformed JSON, a criterion without a verdict -- is asked for
once more, quoting the problem; a second unreadable reply makes the result skipped with the
reason. Never a made-up score and never an exception: without a model the result is skipped
("no judge model configured; pass --judge-model SPEC"), and a model error is a skipped result
naming the error.

Example: with criteria (accuracy, helpfulness, tone, completeness) and n=3, samples passing
accuracy 3/3, helpfulness 2/3, tone 1/3 and completeness 2/3 give score 0.75.

    >>> judge_evaluator().key
    'judge'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field, ValidationError

from app.catalog import Catalog
from app.errors import InvalidArgumentError, UnknownNameError
from app.evaluation.judge_prompt import ANSWER_FORMAT, conversation_text, instructions
from app.evaluation.result import EvalResult
from app.formats.evaluation import JudgeSettings
from app.formats.rubrics import RubricLibrary
from app.transcript import Transcript

__all__ = [
    "CriterionVerdict",
    "JudgeVerdict",
    "judge_evaluator",
    "DEFAULT_SAMPLES",
    "SAMPLE_TEMPERATURE",
    "NO_JUDGE",
    "UnreadableVerdict",
    "read_verdict",
]

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


class UnreadableVerdict(ValueError):
    """A judge reply that holds no usable verdict; the message says why."""


def _text(content: Any) -> str:
    if isinstance(content, list):  # provider content blocks
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return str(content or "")


def read_verdict(reply: Any, criteria: Sequence[str]) -> dict[str, CriterionVerdict]:
    """Criterion -> verdict from a structured answer, a dict, or a message whose text holds the JSON.

    Raises:
        UnreadableVerdict: no JSON object, not the verdict shape, or a criterion without a verdict.
    """
    if isinstance(reply, JudgeVerdict):
        verdict = reply
    else:
        try:
            if isinstance(reply, dict):
                verdict = JudgeVerdict.model_validate(reply)
            else:
                text = _text(getattr(reply, "content", reply)).strip()
                start, end = text.find("{"), text.rfind("}")
                if start < 0 or end < start:
                    raise UnreadableVerdict(f"the reply holds no JSON object: {text[:80]!r}")
                verdict = JudgeVerdict.model_validate_json(text[start : end + 1])
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise UnreadableVerdict(f"not a verdict ({where}: {first['msg']})") from None
    given = {v.criterion.strip().lower(): v for v in verdict.verdicts}
    missing = [c for c in criteria if c not in given]
    if missing:
        raise UnreadableVerdict(f"no verdict for {', '.join(missing)}")
    return {c: given[c] for c in criteria}


class _JudgeEvaluator:
    key = "judge"

    def __init__(
        self, model: Any, n: int, criteria: tuple[str, ...], settings: JudgeSettings, rubrics: RubricLibrary
    ) -> None:
        self.model = model
        self.n = n
        self.criteria = criteria
        self.settings = settings
        self.rubrics = rubrics
        self._structured: Any = None

    def __call__(self, *, transcript: Transcript) -> EvalResult:
        if self.model is None:
            return EvalResult.skip(self.key, NO_JUDGE)
        s = self.settings
        prompt = [
            SystemMessage(instructions(self.criteria, self.rubrics, s.max_transcript_chars, s.tool_result_chars)),
            HumanMessage(conversation_text(transcript, s.max_transcript_chars, s.tool_result_chars)),
        ]
        usage: dict[str, int] = {}
        samples = []
        try:
            for _ in range(self.n):
                samples.append(self._vote(prompt, usage))
        except UnreadableVerdict as exc:
            return EvalResult.skip(self.key, f"judge output unreadable after a retry: {exc}"[:300])
        except Exception as exc:  # any model failure: no score rather than a wrong one
            return EvalResult.skip(self.key, f"judge model failed: {type(exc).__name__}: {exc}"[:300])
        return self._result(samples, usage)

    def _result(self, samples: list[dict[str, CriterionVerdict]], usage: dict[str, int]) -> EvalResult:
        criteria: dict[str, Any] = {}
        for c in self.criteria:
            votes = [sample[c].passed for sample in samples]
            criteria[c] = {
                "passed": sum(votes) * 2 > len(votes),
                "score": sum(votes) / len(votes),
                "votes": votes,
                "reasons": [sample[c].reason for sample in samples if sample[c].reason],
            }
        passed = [c for c in self.criteria if criteria[c]["passed"]]
        score = len(passed) / len(self.criteria)
        details: dict[str, Any] = {"criteria": criteria, "samples": self.n}
        if usage:
            details["usage"] = usage
        failed = [c for c in self.criteria if c not in passed]
        comment = f"{len(passed)}/{len(self.criteria)} criteria passed" + (f"; failed: {', '.join(failed)}" if failed else "")
        return EvalResult(
            key=self.key, score=score, passed=score >= self.settings.pass_threshold, comment=comment, details=details
        )

    def _vote(self, prompt: list[Any], usage: dict[str, int]) -> dict[str, CriterionVerdict]:
        """One vote; an unreadable reply is asked for once more, quoting the problem."""
        reply, raw = self._ask(prompt, usage)
        try:
            return read_verdict(reply, self.criteria)
        except UnreadableVerdict as exc:
            said = _text(getattr(raw, "content", "")) or "(no text)"
            again = [*prompt, AIMessage(said), HumanMessage(f"Your reply could not be read: {exc}. {ANSWER_FORMAT}")]
            reply, _ = self._ask(again, usage)
            return read_verdict(reply, self.criteria)

    def _ask(self, prompt: list[Any], usage: dict[str, int]) -> tuple[Any, Any]:
        """``(answer, raw message)``: the structured answer when there is one, else the raw reply."""
        if self._structured is None:
            try:
                self._structured = self.model.with_structured_output(JudgeVerdict, include_raw=True)
            except NotImplementedError:  # a model without structured output answers in text
                self._structured = False
        if self._structured is False:
            raw = self.model.invoke(prompt)
            _add_usage(usage, raw)
            return raw, raw
        out = self._structured.invoke(prompt)
        if not (isinstance(out, dict) and "parsed" in out):  # structured output that ignores include_raw
            return out, None
        raw = out.get("raw")
        _add_usage(usage, raw)
        parsed = out.get("parsed")
        return (parsed if parsed is not None else raw), raw


def _add_usage(usage: dict[str, int], message: Any) -> None:
    reported = getattr(message, "usage_metadata", None) or {}
    for key in ("input_tokens", "output_tokens", "total_tokens"):
        if key in reported:
            usage[key] = usage.get(key, 0) + int(reported[key] or 0)


def judge_evaluator(
    model: Any = None,
    *,
    n: int = DEFAULT_SAMPLES,
    criteria: Sequence[str] | None = None,
    catalog: Catalog | None = None,
) -> _JudgeEvaluator:
    """Evaluator ``judge``: majority-vote rubric grading by ``model`` (any langchain-core chat model).

    Args:
        model: the judge chat model; ``None`` makes every result skipped. Evaluators do not build
            models: make one from a spec with :func:`app.batch.make_judge_model`.
        n: samples per transcript (majority vote per criterion); at least 1.
        criteria: criteria of ``data/rubrics.yaml`` to grade (default: ``judge.criteria`` of
            ``data/evaluation.yaml``).
        catalog: the data folder with the settings and rubrics (default: ``Catalog.default()``).
    """
    if isinstance(model, str):
        raise InvalidArgumentError(
            f"the judge needs a chat model, got the model spec {model!r}; "
            f"make the model with app.batch.make_judge_model({model!r})"
        )
    if n < 1:
        raise InvalidArgumentError(f"judge samples n must be at least 1, got {n}")
    catalog = catalog or Catalog.default()
    settings, rubrics = catalog.evaluation.judge, catalog.rubrics
    chosen = tuple(settings.criteria if criteria is None else criteria)
    if not chosen:
        raise InvalidArgumentError(f"give at least one judge criterion; valid: {', '.join(rubrics.criteria)}")
    for c in chosen:
        if c not in rubrics.criteria:
            raise UnknownNameError("judge criterion", c, rubrics.criteria)
    return _JudgeEvaluator(model, n, chosen, settings, rubrics)
