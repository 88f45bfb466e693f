"""How the rule-based CJ decides what to call: the turn it reads and the plan it makes.

A :class:`Turn` is everything one decision needs (the conversation, the workflow position, the
bound tools, the catalog). :func:`plan_turn` turns it into a :class:`Plan`: the tool calls for the
merchant's question (their intents, time windows, fallbacks and companions), or the workflow's next
stage when nothing specific was asked, or an idle or closing reply. :func:`retry_call` corrects a
failed call once. The answer is written from the plan by :mod:`app.policies.rule_cj`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from app.analysis.arguments import tool_has_arg
from app.analysis.artifacts import resolve
from app.catalog import Catalog
from app.formats.rule_cj import RuleCJTemplates
from app.intents import IntentMatch
from app.models import CommunicationStyle, Stage, StressLevel
from app.policies.context import CJTurnContext
from app.policies.history import History, ToolResult
from app.policies.tone import ToneRenderer
from app.tools import TOOL_VIEWS
from app.views import VIEWS

__all__ = ["Call", "Plan", "Turn", "plan_turn", "retry_call"]

@dataclass(frozen=True)
class Call:
    tool: str
    args: dict[str, Any]
    key: str


@dataclass(frozen=True)
class Plan:
    calls: tuple[Call, ...] = ()
    focus: str = ""
    recommend: bool = False
    closing: bool = False
    idle: bool = False
    workflow: bool = False
    unavailable: str | None = None


@dataclass
class Turn:
    """Everything one decision needs."""

    conv: History
    ctx: CJTurnContext | None
    bound: tuple[str, ...]
    catalog: Catalog
    seed: int
    _tone: ToneRenderer | None = field(default=None, init=False)

    @property
    def templates(self) -> RuleCJTemplates:
        return self.catalog.prompts.rule_cj

    def intents(self, text: str) -> list[IntentMatch]:
        return self.catalog.intents.detect(text)

    @property
    def tone(self) -> ToneRenderer:
        if self._tone is None:
            stress = self.ctx.stress_level if self.ctx else StressLevel.moderate
            style = self.ctx.communication_style if self.ctx else CommunicationStyle.collaborative
            turn = self.ctx.turn if self.ctx else len(self.conv.merchant_lines())
            self._tone = ToneRenderer(self.templates, stress, style, self.seed, turn)
        return self._tone

    @property
    def pending(self) -> tuple[Stage, ...]:
        return self.ctx.pending_stages if self.ctx else ()

    @property
    def gaps(self) -> frozenset[str]:
        """What the data holds none of ("no subscription data"): as the turn context (the provider)
        or a result so far names it."""
        said = {reason for r in self.conv.results if r.ok and r.artifact is not None for reason in _gaps_named(r.artifact)}
        return frozenset(said) | (self.ctx.data_gaps if self.ctx else frozenset())

    @property
    def unanswerable(self) -> frozenset[str]:
        """Tools the data cannot answer: those the templates list for one of :attr:`gaps`."""
        listed = self.templates.unanswerable
        return frozenset(tool for reason in self.gaps if reason in listed for tool in listed[reason])

    def first_tool_stage(self) -> Stage | None:
        for stage in self.pending:
            if self.may_call(stage):
                return stage
        return None

    def may_call(self, stage: Stage) -> bool:
        """Whether following the workflow may call the stage's tool: bound, not an action the merchant
        already declined (asking again unprompted would ignore their answer), and every argument taken
        from earlier results found."""
        return bool(
            stage.tool
            and stage.tool in self.bound
            and not self.conv.declined(stage.tool)
            and self.from_results(stage.tool, stage.args) is not None
        )

    def from_results(self, tool: str, args: dict[str, Any]) -> dict[str, Any] | None:
        """``args`` with the templates' ``result_args`` of ``tool`` filled from the newest successful
        result that holds them; None when one cannot be filled."""
        out = dict(args)
        for arg, sources in self.templates.result_args.get(tool, {}).items():
            if arg in out:
                continue
            for source in sources:
                name, _, path = source.partition(".")
                value = next((resolve(r.artifact, path) for r in reversed(self.conv.results)
                              if r.ok and r.call.name == name and r.artifact is not None), None)  # fmt: skip
                if value is not None:
                    out[arg] = value
                    break
            else:
                return None
        return out

    def stage_call(self, stage: Stage) -> Call:
        """The call that drives ``stage`` (a tool stage :meth:`may_call`)."""
        assert stage.tool is not None
        return Call(stage.tool, self.from_results(stage.tool, stage.args) or dict(stage.args), stage.tool)

    def default_call(self) -> tuple[Call, ...]:
        stage = self.first_tool_stage()
        if stage is not None:
            return (self.stage_call(stage),)
        for tool in self.templates.default_tools:
            if tool in self.bound:
                return (Call(tool, {}, tool),)
        return ()


def _gaps_named(artifact: dict[str, Any]) -> set[str]:
    """Reasons a view result gives for what it cannot answer: its ``unavailable`` mapping and the
    ``unavailable`` reason of each of its metrics (a trend the data cannot support)."""
    named = set((artifact.get("unavailable") or {}).values())
    named |= {v["unavailable"] for v in artifact.values() if isinstance(v, dict) and isinstance(v.get("unavailable"), str)}
    return named


def _fill(args: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    """Fallback arguments: ``"{arg}"`` strings copy the original call's argument."""
    out = {}
    for k, v in args.items():
        if isinstance(v, str) and v.startswith("{") and v.endswith("}"):
            v = original.get(v[1:-1])
            if v is None:
                continue
        out[k] = v
    return out


# --------------------------------------------------------------------------- planning


def _refine(turn: Turn, tool: str, args: dict[str, Any], text: str) -> dict[str, Any]:
    args = dict(args)
    explicit = None
    if tool_has_arg(tool, "time_range"):
        for phrase in turn.templates.time_ranges:
            if (phrase.tools is None or tool in phrase.tools) and re.search(phrase.pattern, text, re.IGNORECASE):
                explicit = phrase.time_range
                args["time_range"] = explicit
                break
    before = turn.conv.last_human if turn.conv.last_human >= 0 else len(turn.conv.messages)
    previous = turn.conv.last_args(tool, before) or {}
    for arg in turn.templates.inherit_args.get(tool, []):
        if arg == "time_range" and explicit:
            continue
        if tool_has_arg(tool, arg) and previous.get(arg) is not None:
            args[arg] = previous[arg]
    return args


def _intent_calls(turn: Turn, matches: Sequence[IntentMatch], text: str) -> list[Call]:
    calls: list[Call] = []
    for m in matches:
        tool = m.intent.tool
        if tool and tool in turn.bound and all(c.tool != tool for c in calls):
            args = turn.from_results(tool, _refine(turn, tool, m.args, text))
            if args is None:  # an argument that only an earlier result gives (an alert id) is not there yet
                continue
            calls.append(Call(tool, args, m.intent.id))
            if len(calls) >= turn.templates.max_tools_per_ask or calls[0].key not in turn.templates.paired_intents:
                break
    if not calls:  # intents whose tool is not bound: a bound alternative, if the data names one
        for m in matches:
            for fb in turn.catalog.intents.fallbacks.get(m.intent.tool or "", []):
                if fb.tool in turn.bound:
                    return [Call(fb.tool, _refine(turn, fb.tool, _fill(fb.args, m.args), text), fb.tool)]
    for call in list(calls):
        for companion in turn.templates.companions.get(call.tool, []):
            stage = next((s for s in turn.pending if s.tool == companion), None)
            if (
                stage is not None
                and companion in turn.bound
                and all(c.tool != companion for c in calls)
                and not turn.conv.called_ok(companion)
            ):
                calls.append(turn.stage_call(stage))
    return calls


def plan_turn(turn: Turn) -> Plan:
    plan = _plan_calls(turn)
    return plan if not plan.calls else replace(plan, calls=_equivalents(turn, plan.calls))


def _equivalents(turn: Turn, calls: Sequence[Call]) -> tuple[Call, ...]:
    """Each call, or the equivalent the templates' ``gap_calls`` name for a gap of the data (an
    orders-only shop's at-risk list by last order); a call made twice that way is made once."""
    out: list[Call] = []
    for call in calls:
        for reason in sorted(turn.gaps):
            rule = next(
                (g for g in turn.templates.gap_calls.get(reason, [])
                 if g.tool == call.tool and all(call.args.get(k) == v for k, v in g.when.items())),
                None,
            )  # fmt: skip
            if rule is not None and rule.call.tool in turn.bound:
                key = call.key if rule.call.tool == call.tool else rule.call.tool  # answered by the new tool's facts
                call = Call(rule.call.tool, dict(rule.call.args), key)
                break
        if all((c.tool, c.args) != (call.tool, call.args) for c in out):
            out.append(call)
    return tuple(out)


def _plan_calls(turn: Turn) -> Plan:
    conv, t = turn.conv, turn.templates
    if conv.is_opening:
        return Plan(calls=turn.default_call(), workflow=True)
    text = conv.request or ""
    matches = turn.intents(text)
    ids = {m.intent.id for m in matches}
    calls = _intent_calls(turn, matches, text)
    if not calls and ids & set(t.pushback_intents) and len(conv.merchant_lines()) > 1:
        earlier = conv.merchant_lines()[-2]  # the question the merchant wants numbers for
        previous = _intent_calls(turn, turn.intents(earlier), earlier)
        previous = [c for c in previous if not turn.conv.declined(c.tool)]  # a "no" stands; numbers come from data
        if previous:
            return Plan(calls=tuple(previous), focus=earlier)
    recommend = bool(ids & set(t.recommend_intents))
    if calls:
        return Plan(calls=tuple(calls), focus=text, recommend=recommend)
    has_data = any(r.ok for r in conv.results)
    if recommend:
        return Plan(calls=() if has_data else turn.default_call(), focus=text, recommend=True)
    # asked for something this workflow has no tool for: say so, then go on with the workflow
    unbound = next((m.intent.tool for m in matches if m.intent.tool and m.intent.tool not in turn.bound), None)
    for stage in turn.pending:  # nothing answerable asked: follow the workflow
        if stage.tool and turn.may_call(stage):
            call = turn.stage_call(stage)
            return Plan(calls=(call,), workflow=True, unavailable=unbound)
        if stage.milestone == "recommended_action":
            backing = () if has_data else turn.default_call()
            return Plan(calls=backing, recommend=True, workflow=True, unavailable=unbound)
    if ids & set(t.closing_intents):
        return Plan(closing=True)
    if not has_data:
        return Plan(calls=turn.default_call(), workflow=True, unavailable=unbound)
    return Plan(idle=True, unavailable=unbound)


# --------------------------------------------------------------------------- retries


def retry_call(turn: Turn, failed: ToolResult) -> Call | None:
    """The corrected call for a failed one: drop arguments the error names, else a fallback tool."""
    call = failed.call
    view = TOOL_VIEWS.get(call.name)
    if view is not None:
        fields = VIEWS[view].args.model_fields
        bad = [
            a
            for a in call.args
            if a not in fields
            or (re.search(rf"\b{re.escape(a)}\b", failed.content) and not fields[a].is_required())
        ]
        if bad:
            return Call(call.name, {k: v for k, v in call.args.items() if k not in bad}, call.name)
    for fb in turn.catalog.intents.fallbacks.get(call.name, []):
        if fb.tool in turn.bound and fb.tool != call.name:
            return Call(fb.tool, _fill(fb.args, call.args), fb.tool)
    return None
