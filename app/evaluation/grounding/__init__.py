"""Grounding: every number and name CJ states must come from a tool result it received earlier.

Definition. For each CJ text message, every numeric claim (see :mod:`app.analysis.claims`) and
every named customer (name or id) or ticket id is looked up among the tool results that arrived
*before* that message. A number is checked for what it *is*, not only its digits:

* its **kind** -- money, percent, hours, a percentage-point change, a ratio, a per-day rate or a
  count -- must match the kind of the source value (:mod:`.kinds`): "Churn: 12.0%" is never
  grounded by a cancel-reason count of 12;
* when its clause names a **metric** ("churn", "MRR", "CAC", "CSAT", "first response", ...), the
  source must be that metric's value (its fields in ``data/evaluation.yaml``, or a sentence of a
  tool's prose naming the same metric).

Verdicts:

* ``grounded`` -- a value of a result matches within the rounding the claim's precision implies
  (``$45.2K`` matches 45,210; ``5.2%`` matches the fraction 0.0523; signs are not compared); a
  name or id appears in a result (and a name written next to an id belongs to that id);
* ``derived`` -- no value matches, but one of the declared derivations of one result does
  (:mod:`.sources`: a trend's change, its change in points or in percent, ``current /
  previous``, a list item's share, a declared per-unit ratio such as ARPU);
* ``ungrounded`` -- neither.

Each claim reports its ``source``: the best matching value of the right kind and metric (a direct
value before a derivation, then the closest, then the latest result), not merely the first
number that happens to be equal.

Score = (grounded + derived) / claims (1.0, comment "no claims", when CJ stated none); passed
when no claim is ungrounded.

Example: after ``get_financial_metrics`` returned ``{"mrr": {"current": 45210, "previous":
44100, ...}}``, "MRR is $45.2K, up $1,110" is grounded ($45.2K) and derived ($1,110 =
current - previous); "MRR is $47K" is ungrounded.

    >>> ev = grounding_evaluator()
    >>> ev.key
    'grounding'
"""

from __future__ import annotations

from app.catalog import Catalog
from app.evaluation.grounding.analysis import ClaimCheck, ConversationAnalysis, ToolResultRecord, analyze
from app.evaluation.grounding.sources import Source
from app.evaluation.result import EvalResult
from app.transcript import Transcript

__all__ = ["ClaimCheck", "ToolResultRecord", "ConversationAnalysis", "Source", "analyze", "grounding_evaluator"]


class _GroundingEvaluator:
    key = "grounding"

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def __call__(self, *, transcript: Transcript) -> EvalResult:
        analysis = analyze(transcript, self.catalog)
        claims = [c for i in analysis.replies for c in analysis.checks[i]]
        details = {
            "claims": [c.as_detail() for c in claims],
            "total": len(claims),
            "ungrounded": sum(c.status == "ungrounded" for c in claims),
        }
        if not claims:
            return EvalResult(key=self.key, score=1.0, passed=True, comment="no claims", details=details)
        bad = sum(c.status == "ungrounded" for c in claims)
        score = (len(claims) - bad) / len(claims)
        if bad:
            shown = ", ".join(repr(c.text) for c in claims if c.status == "ungrounded")
            comment = f"{bad} of {len(claims)} claims ungrounded: {shown[:200]}"
        else:
            derived = sum(c.status == "derived" for c in claims)
            comment = f"all {len(claims)} claims grounded" + (f" ({derived} derived)" if derived else "")
        return EvalResult(key=self.key, score=score, passed=bad == 0, comment=comment, details=details)


def grounding_evaluator(*, catalog: Catalog | None = None) -> _GroundingEvaluator:
    """Evaluator ``grounding``: CJ's numbers, customers and tickets come from earlier tool results.

    Args:
        catalog: evaluation settings and intents to use (default: ``Catalog.default()``).
    """
    return _GroundingEvaluator(catalog or Catalog.default())
