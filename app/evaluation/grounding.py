"""Grounding: every number and name CJ states must come from a tool result it received earlier.

Definition. For each CJ text message, every numeric claim (money, percentages, hours, counts;
see :mod:`app.analysis.claims`) and every named customer (name or id) or ticket id is looked
up among the tool results that arrived *before* that message:

* ``grounded`` -- a value of a result matches within the rounding the claim's precision implies
  (``$45.2K`` matches 45,210; ``5.2%`` matches the fraction 0.0523; signs are not compared);
  a name or id appears in a result (and a name written next to an id belongs to that id);
* ``derived`` -- no value matches, but a declared relation of one result's values does: a
  trend's ``current - previous``, its % change or ``current / previous``, or the difference or
  ratio of two of its trends' current values (``"up 12 subscribers"`` = 480 - 468);
* ``ungrounded`` -- neither.

Sources are the numeric fields of each result's JSON artifact (fractions also as percentages),
numbers written inside its text fields (alert messages, recommended actions), and -- for a
result without an artifact -- the numbers of its text. A bare customer name is recognised when
it is a name some tool result of the conversation carries; names CJ invents outright are only
caught when written next to an id ("Jane Doe (C000882)").

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

import json
import re
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from app.analysis.claims import (
    Claim,
    Entity,
    SourceIndex,
    SourceMatch,
    extract_claims,
    extract_entities,
)
from app.catalog import Catalog
from app.evaluation.result import EvalResult
from app.intents import IntentCatalog, IntentMatch
from app.tools import TOOL_VIEWS
from app.transcript import Transcript

_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")

__all__ = ["ClaimCheck", "ToolResultRecord", "ConversationAnalysis", "analyze", "grounding_evaluator"]


@dataclass(frozen=True)
class ClaimCheck:
    """One claim or entity of one CJ message, with its verdict."""

    message: int
    text: str
    start: int
    end: int
    kind: str
    value: float | str
    source: str | None
    status: str  # grounded | derived | ungrounded
    sources: tuple[SourceMatch, ...] = ()
    claim: Claim | None = None

    def as_detail(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "kind": self.kind,
            "value": self.value,
            "source": self.source,
            "status": self.status,
        }


@dataclass(frozen=True)
class ToolResultRecord:
    """A tool message with the call that produced it."""

    message: int
    tool: str
    view: str
    args: dict[str, Any]
    ok: bool
    artifact: Any
    content: str


@dataclass
class ConversationAnalysis:
    """What several evaluators need from one transcript, computed once.

    Attributes:
        results: every tool result, in order.
        checks: claim checks per CJ text message index.
        replies: indices of CJ messages with text.
    """

    results: list[ToolResultRecord] = field(default_factory=list)
    checks: dict[int, list[ClaimCheck]] = field(default_factory=dict)
    replies: list[int] = field(default_factory=list)
    dates: dict[int, list[str]] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)
    index: SourceIndex | None = None
    intent_catalog: IntentCatalog | None = None
    _intents: dict[int, list[IntentMatch]] = field(default_factory=dict)
    _result_dates: dict[int, frozenset[str]] = field(default_factory=dict)

    def result_dates(self, result: ToolResultRecord) -> frozenset[str]:
        """ISO dates (YYYY-MM-DD) among one result's values."""
        found = self._result_dates.get(result.message)
        if found is None:
            text = json.dumps(result.artifact) if result.artifact is not None else ""
            found = frozenset(_DATE.findall(text))
            self._result_dates[result.message] = found
        return found

    def sources_in(self, result: ToolResultRecord, claim: Claim) -> list[SourceMatch]:
        """Values of one result matching ``claim`` (for "which result backs this claim")."""
        if self.index is None:
            return []
        return [m for m in self.index.lookup_all(claim) if m.message == result.message]

    def intents_of(self, message: int) -> list[IntentMatch]:
        """Intents of a message's text (cached)."""
        found = self._intents.get(message)
        if found is None:
            assert self.intent_catalog is not None
            found = self._intents[message] = self.intent_catalog.detect(self.texts[message])
        return found


_IDENTITY_CACHE: OrderedDict[tuple[int, int], tuple[weakref.ref[Transcript], Catalog, ConversationAnalysis]] = (
    OrderedDict()
)
_CACHE_SIZE = 32
_CACHE_LOCK = threading.Lock()


def analyze(transcript: Transcript, catalog: Catalog) -> ConversationAnalysis:
    """The shared analysis of ``transcript`` under ``catalog``'s settings and intents (cached per
    transcript object and catalog; treat transcripts as immutable)."""
    key = (id(transcript), id(catalog))
    with _CACHE_LOCK:  # batches may score on threads
        hit = _IDENTITY_CACHE.get(key)
        if hit is not None and hit[0]() is transcript and hit[1] is catalog:
            _IDENTITY_CACHE.move_to_end(key)
            return hit[2]
    analysis = _analyze(transcript, catalog)
    with _CACHE_LOCK:
        _IDENTITY_CACHE[key] = (weakref.ref(transcript), catalog, analysis)
        while len(_IDENTITY_CACHE) > _CACHE_SIZE:
            _IDENTITY_CACHE.popitem(last=False)
    return analysis


def _strings(node: Any, fields: frozenset[str], out: dict[str, set[str]]) -> None:
    """Collect string values of ``fields`` (by field name) anywhere in a JSON-like structure."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in fields and isinstance(v, str):
                out.setdefault(k, set()).add(v)
            elif isinstance(v, (dict, list)):
                _strings(v, fields, out)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, (dict, list)):
                _strings(item, fields, out)


def _pairs(node: Any, id_field: str, name_fields: frozenset[str], out: dict[str, str]) -> None:
    """id -> name for every object carrying both."""
    if isinstance(node, dict):
        cid = node.get(id_field)
        if isinstance(cid, str):
            for nf in name_fields:
                name = node.get(nf)
                if isinstance(name, str):
                    out.setdefault(cid, name)
        for v in node.values():
            if isinstance(v, (dict, list)):
                _pairs(v, id_field, name_fields, out)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, (dict, list)):
                _pairs(item, id_field, name_fields, out)


def _analyze(t: Transcript, catalog: Catalog) -> ConversationAnalysis:
    settings = catalog.evaluation.grounding
    fraction = re.compile(settings.fraction_fields, re.IGNORECASE)
    cust_ids, names, tickets = (
        frozenset(settings.customer_id_fields),
        frozenset(settings.customer_name_fields),
        frozenset(settings.ticket_id_fields),
    )
    wanted = cust_ids | names | tickets
    calls = {c.id: c for m in t.messages if m.tool_calls for c in m.tool_calls}
    out = ConversationAnalysis(texts=[m.content for m in t.messages], intent_catalog=catalog.intents)

    # Names known anywhere in the conversation: a name CJ states before receiving it is ungrounded.
    all_names: set[str] = set()
    for m in t.messages:
        if m.role == "tool" and m.status != "error" and m.artifact is not None:
            found: dict[str, set[str]] = {}
            _strings(m.artifact, names, found)
            for v in found.values():
                all_names |= {n for n in v if " " in n}
    known_names = sorted(all_names, key=len, reverse=True)

    index = out.index = SourceIndex(fraction, derive=settings.derive_relations)
    seen: dict[str, set[str]] = {"customer": set(), "ticket": set()}
    id_names: dict[str, str] = {}
    for i, m in enumerate(t.messages):
        if m.role == "tool":
            call = calls.get(m.tool_call_id or "")
            tool = m.name or (call.name if call else "")
            view = TOOL_VIEWS.get(tool, tool)
            ok = m.status != "error"
            args = dict(call.args) if call else {}
            out.results.append(ToolResultRecord(i, tool, view, args, ok, m.artifact, m.content))
            if not ok:
                continue
            index.add_result(i, view, m.artifact, "" if m.artifact is not None else m.content)
            if m.artifact is not None:
                found = {}
                _strings(m.artifact, wanted, found)
                for f, values in found.items():
                    bucket = "ticket" if f in tickets else "customer"
                    seen[bucket] |= values
                for id_field in cust_ids:
                    _pairs(m.artifact, id_field, names, id_names)
        elif m.role == "cj" and m.content:
            out.replies.append(i)
            out.dates[i] = _DATE.findall(m.content)
            out.checks[i] = _check_message(i, m.content, index, known_names, seen, id_names)
    return out


def _check_message(
    i: int,
    text: str,
    index: SourceIndex,
    known_names: list[str],
    seen: dict[str, set[str]],
    id_names: dict[str, str],
) -> list[ClaimCheck]:
    checks: list[ClaimCheck] = []
    for c in extract_claims(text):
        match = index.lookup(c)
        sources: tuple[SourceMatch, ...]
        if match is None:
            status, source, sources = "ungrounded", None, ()
        else:
            status = "derived" if match.derived else "grounded"
            source, sources = match.label, tuple(index.lookup_all(c)) or (match,)
        checks.append(ClaimCheck(i, c.text, c.start, c.end, c.kind, c.value, source, status, sources, c))
    for e in extract_entities(text, known_names):
        checks.append(_check_entity(i, e, seen, id_names))
    checks.sort(key=lambda ch: ch.start)
    return checks


def _check_entity(i: int, e: Entity, seen: dict[str, set[str]], id_names: dict[str, str]) -> ClaimCheck:
    if e.kind == "ticket":
        ok = e.value in seen["ticket"]
        source = "ticket_id" if ok else None
    elif e.id_hint is not None:  # a name written next to an id must be that id's name
        ok = id_names.get(e.id_hint) == e.value
        source = f"name of {e.id_hint}" if ok else None
    else:
        ok = e.value in seen["customer"]
        source = ("customer_id" if e.value[:1] == "C" and e.value[1:].isdigit() else "customer name") if ok else None
    return ClaimCheck(i, e.text, e.start, e.end, e.kind, e.value, source, "grounded" if ok else "ungrounded")


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
