"""The shared analysis of one transcript: tool results in order, and every CJ claim checked.

Computed once per transcript and catalog (cached) and read by grounding, style, goal coverage
and consistency. See :mod:`app.evaluation.grounding` for the rules.
"""

from __future__ import annotations

import json
import re
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, get_args

from app.analysis.arguments import normalize_args
from app.analysis.claims import Claim, Entity, extract_claims, extract_entities
from app.catalog import Catalog
from app.evaluation.grounding.kinds import compile_labels
from app.evaluation.grounding.sources import Source, TypedIndex
from app.intents import IntentCatalog, IntentMatch
from app.tools import TOOL_VIEWS
from app.transcript import Transcript
from app.views.base import TimeRange

_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_WINDOWS = frozenset(get_args(TimeRange))
"""Windows a result can cover (its call's ``time_range``)."""

__all__ = ["ClaimCheck", "ToolResultRecord", "ConversationAnalysis", "analyze"]


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
    sources: tuple[Source, ...] = ()
    claim: Claim | None = None
    metric: str | None = None
    """The metric the claim's clause names, if any (its sources must be of that metric)."""

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
            "metric": self.metric,
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
    declined: bool = False


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
    index: TypedIndex | None = None
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

    def sources_in(self, result: ToolResultRecord, check: ClaimCheck) -> list[Source]:
        """Values of one result that ground ``check``'s claim (same kind and metric)."""
        return [m for m in check.sources if m.message == result.message]

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


_ASKED: dict[int, tuple[object, tuple[tuple[str, re.Pattern[str]], ...]]] = {}


def _asked_windows(catalog: Catalog) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Window -> the phrases that ask for it in a question (``grounding.question_windows``)."""
    windows = catalog.evaluation.grounding.question_windows
    hit = _ASKED.get(id(windows))
    if hit is None or hit[0] is not windows:
        compiled = tuple(
            (name, re.compile("|".join(f"(?:{p})" for p in phrases), re.IGNORECASE)) for name, phrases in windows.items()
        )
        hit = _ASKED[id(windows)] = (windows, compiled)
    return hit[1]


def _analyze(t: Transcript, catalog: Catalog) -> ConversationAnalysis:
    settings = catalog.evaluation.grounding
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

    index = out.index = TypedIndex(settings, compile_labels(catalog.evaluation.consistency), _WINDOWS)
    asked_windows = _asked_windows(catalog)
    asked: tuple[str, int] | None = None
    seen: dict[str, set[str]] = {"customer": set(), "ticket": set()}
    id_names: dict[str, str] = {}
    for i, m in enumerate(t.messages):
        if m.role == "tool":
            call = calls.get(m.tool_call_id or "")
            tool = m.name or (call.name if call else "")
            view = TOOL_VIEWS.get(tool, tool)
            ok = m.status != "error"
            args = dict(call.args) if call else {}
            out.results.append(ToolResultRecord(i, tool, view, args, ok, m.artifact, m.content, m.declined))
            if not ok:
                continue
            window = normalize_args(tool, args).get("time_range") if tool in TOOL_VIEWS else None
            text = "" if m.artifact is not None else m.content
            index.add_result(i, view, m.artifact, text, window if isinstance(window, str) else None)
            if m.artifact is not None:
                found = {}
                _strings(m.artifact, wanted, found)
                for f, values in found.items():
                    bucket = "ticket" if f in tickets else "customer"
                    seen[bucket] |= values
                for id_field in cust_ids:
                    _pairs(m.artifact, id_field, names, id_names)
        elif m.role == "merchant":
            named = {w for w, rx in asked_windows if rx.search(m.content)}
            asked = (named.pop(), i) if len(named) == 1 else None
        elif m.role == "cj" and m.content:
            out.replies.append(i)
            out.dates[i] = _DATE.findall(m.content)
            out.checks[i] = _check_message(i, m.content, index, known_names, seen, id_names, asked)
    return out


def _check_message(
    i: int,
    text: str,
    index: TypedIndex,
    known_names: list[str],
    seen: dict[str, set[str]],
    id_names: dict[str, str],
    asked: tuple[str, int] | None = None,
) -> list[ClaimCheck]:
    checks: list[ClaimCheck] = []
    claims = extract_claims(text)
    metrics = index.metrics_of(text, claims)
    for c in claims:
        metric = metrics.get(c.start)
        found = index.matches(c, metric, index.stated_window(text, c), asked)
        if not found:
            status, source = "ungrounded", None
        else:
            status = "derived" if found[0].derived else "grounded"
            source = found[0].label
        checks.append(ClaimCheck(i, c.text, c.start, c.end, c.kind, c.value, source, status, tuple(found), c, metric))
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
