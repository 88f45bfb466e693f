"""The rule-based CJ: a deterministic chat model that calls CJ's tools and answers from them.

Each turn it reads the conversation (it keeps no state of its own):

1. **Merchant asked something** — recognise intents in the latest merchant message
   (``data/intents.yaml``) and call the tool of the first matching intent that is bound (after
   a broad intent such as a crisis report, also the next one's: "how many tickets since the
   outage?"). Time windows come from the wording or the previous call of the same tool. An
   identical call whose result is still in the conversation is reused.
2. **Tool results arrived** — retry a failed call once (without the bad argument, or with a
   fallback tool declared in ``data/intents.yaml``), then answer: the facts that answer the
   question, formatted exactly as the tools format them, in the tone set by stress level and
   communication style.
3. **Nothing specific asked** (an acknowledgement, "what else?", CJ's opening turn) — follow the
   workflow: call the first pending stage's tool, or give "Recommended next steps:" built from
   the results seen so far.

After an answer it offers the next pending workflow stage in one line. Every number it writes
comes from a tool result of the same conversation; all wording is in ``data/prompts/rule_cj.yaml``.

Example:
    >>> from langchain_core.messages import HumanMessage, SystemMessage
    >>> cj = RuleBasedCJ(seed=0).bind_tools(["get_financial_metrics", "get_ticket_metrics"])
    >>> msg = cj.invoke([SystemMessage("You are CJ."), HumanMessage("How bad is churn this month?")])
    >>> msg.tool_calls[0]["name"], msg.tool_calls[0]["args"], msg.tool_calls[0]["id"]
    ('get_financial_metrics', {'time_range': '30d'}, 'call_0')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import BaseTool

from app.analysis.arguments import tool_has_arg
from app.catalog import Catalog
from app.formats.rule_cj import RuleCJTemplates
from app.intents import IntentMatch
from app.models import CommunicationStyle, Stage, StressLevel
from app.policies.caveats import QUALITY_TOOL, caveat_problems, needs_quality_check
from app.policies.cj_answers import AnswerWriter, Presented
from app.policies.context import CJTurnContext
from app.policies.history import History, HistoryCall, ToolResult
from app.policies.tone import ToneRenderer
from app.tools import TOOL_VIEWS
from app.tools import VIEW_TOOLS as TOOL_NAMES
from app.views import VIEWS

__all__ = ["RuleBasedCJ"]

_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class _Call:
    tool: str
    args: dict[str, Any]
    key: str


@dataclass(frozen=True)
class _Plan:
    calls: tuple[_Call, ...] = ()
    focus: str = ""
    recommend: bool = False
    closing: bool = False
    idle: bool = False
    workflow: bool = False
    unavailable: str | None = None


@dataclass
class _Turn:
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
        """Whether following the workflow may call the stage's tool: bound, and not an action the
        merchant already declined (asking again unprompted would ignore their answer)."""
        return bool(stage.tool and stage.tool in self.bound and not self.conv.declined(stage.tool))

    def default_call(self) -> tuple[_Call, ...]:
        stage = self.first_tool_stage()
        if stage is not None:
            return (_Call(stage.tool, dict(stage.args), stage.tool),)  # type: ignore[arg-type]
        for tool in self.templates.default_tools:
            if tool in self.bound:
                return (_Call(tool, {}, tool),)
        return ()


def _gaps_named(artifact: dict[str, Any]) -> set[str]:
    """Reasons a view result gives for what it cannot answer: its ``unavailable`` mapping and the
    ``unavailable`` reason of each of its metrics (a trend the data cannot support)."""
    named = set((artifact.get("unavailable") or {}).values())
    named |= {v["unavailable"] for v in artifact.values() if isinstance(v, dict) and isinstance(v.get("unavailable"), str)}
    return named


def _tool_name(tool: Any) -> str:
    if isinstance(tool, str):
        return tool
    if isinstance(tool, BaseTool):
        return tool.name
    if isinstance(tool, dict):
        return str(tool.get("name") or tool.get("function", {}).get("name", ""))
    return str(getattr(tool, "name", None) or getattr(tool, "__name__", ""))


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


def _refine(turn: _Turn, tool: str, args: dict[str, Any], text: str) -> dict[str, Any]:
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


def _intent_calls(turn: _Turn, matches: Sequence[IntentMatch], text: str) -> list[_Call]:
    calls: list[_Call] = []
    for m in matches:
        tool = m.intent.tool
        if tool and tool in turn.bound and all(c.tool != tool for c in calls):
            calls.append(_Call(tool, _refine(turn, tool, m.args, text), m.intent.id))
            if len(calls) >= turn.templates.max_tools_per_ask or calls[0].key not in turn.templates.paired_intents:
                break
    if not calls:  # intents whose tool is not bound: a bound alternative, if the data names one
        for m in matches:
            for fb in turn.catalog.intents.fallbacks.get(m.intent.tool or "", []):
                if fb.tool in turn.bound:
                    return [_Call(fb.tool, _refine(turn, fb.tool, _fill(fb.args, m.args), text), fb.tool)]
    for call in list(calls):
        for companion in turn.templates.companions.get(call.tool, []):
            stage = next((s for s in turn.pending if s.tool == companion), None)
            if (
                stage is not None
                and companion in turn.bound
                and all(c.tool != companion for c in calls)
                and not turn.conv.called_ok(companion)
            ):
                calls.append(_Call(companion, dict(stage.args), companion))
    return calls


def _plan(turn: _Turn) -> _Plan:
    plan = _plan_calls(turn)
    return plan if not plan.calls else replace(plan, calls=_equivalents(turn, plan.calls))


def _equivalents(turn: _Turn, calls: Sequence[_Call]) -> tuple[_Call, ...]:
    """Each call, or the equivalent the templates' ``gap_calls`` name for a gap of the data (an
    orders-only shop's at-risk list by last order); a call made twice that way is made once."""
    out: list[_Call] = []
    for call in calls:
        for reason in sorted(turn.gaps):
            rule = next(
                (g for g in turn.templates.gap_calls.get(reason, [])
                 if g.tool == call.tool and all(call.args.get(k) == v for k, v in g.when.items())),
                None,
            )  # fmt: skip
            if rule is not None and rule.call.tool in turn.bound:
                key = call.key if rule.call.tool == call.tool else rule.call.tool  # answered by the new tool's facts
                call = _Call(rule.call.tool, dict(rule.call.args), key)
                break
        if all((c.tool, c.args) != (call.tool, call.args) for c in out):
            out.append(call)
    return tuple(out)


def _plan_calls(turn: _Turn) -> _Plan:
    conv, t = turn.conv, turn.templates
    if conv.is_opening:
        return _Plan(calls=turn.default_call(), workflow=True)
    text = conv.request or ""
    matches = turn.intents(text)
    ids = {m.intent.id for m in matches}
    calls = _intent_calls(turn, matches, text)
    if not calls and ids & set(t.pushback_intents) and len(conv.merchant_lines()) > 1:
        earlier = conv.merchant_lines()[-2]  # the question the merchant wants numbers for
        previous = _intent_calls(turn, turn.intents(earlier), earlier)
        if previous:
            return _Plan(calls=tuple(previous), focus=earlier)
    recommend = bool(ids & set(t.recommend_intents))
    if calls:
        return _Plan(calls=tuple(calls), focus=text, recommend=recommend)
    has_data = any(r.ok for r in conv.results)
    if recommend:
        return _Plan(calls=() if has_data else turn.default_call(), focus=text, recommend=True)
    for stage in turn.pending:  # nothing specific asked: follow the workflow
        if stage.tool and turn.may_call(stage):
            return _Plan(calls=(_Call(stage.tool, dict(stage.args), stage.tool),), workflow=True)
        if stage.milestone == "recommended_action":
            return _Plan(calls=() if has_data else turn.default_call(), recommend=True, workflow=True)
    if ids & set(t.closing_intents):
        return _Plan(closing=True)
    if not has_data:
        return _Plan(calls=turn.default_call(), workflow=True)
    unbound = next((m.intent.tool for m in matches if m.intent.tool and m.intent.tool not in turn.bound), None)
    return _Plan(idle=True, unavailable=unbound)


# --------------------------------------------------------------------------- retries


def _retry(turn: _Turn, failed: ToolResult) -> _Call | None:
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
            return _Call(call.name, {k: v for k, v in call.args.items() if k not in bad}, call.name)
    for fb in turn.catalog.intents.fallbacks.get(call.name, []):
        if fb.tool in turn.bound and fb.tool != call.name:
            return _Call(fb.tool, _fill(fb.args, call.args), fb.tool)
    return None


# --------------------------------------------------------------------------- answering


def _present(turn: _Turn, plan: _Plan) -> list[Presented]:
    conv = turn.conv
    chosen: list[tuple[Presented, bool]] = []
    used: set[int] = set()
    for call in plan.calls:
        result = conv.find(call.tool, call.args)
        if result is not None and result.position not in used:
            used.add(result.position)
            item = Presented(call.key, call.tool, result.artifact, result.content)
            chosen.append((item, result.position > conv.last_human))
    for result in conv.turn_results:  # retries and fallbacks (a quality check CJ made on its own is not one)
        if result.call.name == QUALITY_TOOL and all(c.tool != QUALITY_TOOL for c in plan.calls):
            continue
        if result.ok and result.position not in used:
            used.add(result.position)
            chosen.append((Presented(result.call.name, result.call.name, result.artifact, result.content), True))
    if any(new for _, new in chosen):  # results already discussed are old news
        chosen = [(p, new) for p, new in chosen if new]
    if not chosen and plan.recommend:  # back the advice with the key number it rests on
        seen = [r for r in conv.results if r.ok and r.artifact is not None]
        source = next((r for r in reversed(seen) if (r.artifact or {}).get("recommended_actions")), seen[-1] if seen else None)
        if source is not None:
            backing = Presented(source.call.name, source.call.name, source.artifact, source.content, 1, numeric=True)
            chosen.append((backing, False))
    return [p for p, _ in chosen]


def _errors(turn: _Turn) -> list[tuple[str, str]]:
    """Failed calls of this turn that no later call of the same tool fixed: (tool, message)."""
    results = turn.conv.turn_results
    out: dict[str, str] = {}
    for i, r in enumerate(results):
        if not r.ok and not any(later.ok and later.call.name == r.call.name for later in results[i + 1 :]):
            out[r.call.name] = r.content
    return list(out.items())


def _next_stage(turn: _Turn, items: Sequence[Presented], stated_numbers: bool) -> Stage | None:
    done_tools = {p.tool for p in items}
    for stage in turn.pending:
        if stage.tool and (stage.tool in done_tools or turn.conv.called_ok(stage.tool)):
            continue
        if stage.tool and (stage.tool not in turn.bound or stage.tool in turn.unanswerable):
            continue  # never offer what the data cannot answer
        if stage.milestone == "answered" and stated_numbers:
            continue
        if stage.milestone in ("greeted", "next_steps_agreed"):
            continue
        return stage
    return None


def _head(turn: _Turn, opening: bool) -> str:
    tone = turn.tone
    if not opening:
        return tone.intro()
    ctx = turn.ctx
    first_name = ctx.merchant_name.split()[0] if ctx and ctx.merchant_name else "there"
    business = ctx.business_name if ctx and ctx.business_name else "your business"
    workflow = ctx.workflow if ctx else "default"
    openings = turn.templates.phrases.openings
    line = tone.pick(openings.get(workflow) or openings.get("default") or [""], "opening")
    return " ".join(p for p in (tone.greeting(first_name), line.format(business_name=business)) if p)


def _answer(turn: _Turn, plan: _Plan) -> str:
    t = turn.templates
    tone = turn.tone
    writer = AnswerWriter(t, tone)
    if plan.closing:
        return tone.pick(t.phrases.sign_off, "sign_off")
    items = _present(turn, plan)
    errors = [writer.error_note(tool, content) for tool, content in _errors(turn)]
    facts_text = " ".join(f.value for i in items for f in writer.facts(i, plan.focus))
    stage = _next_stage(turn, items, bool(_DIGIT.search(facts_text)))
    recommend = plan.recommend or (bool(items) and stage is not None and stage.milestone == "recommended_action")
    recs: list[str] = []
    if recommend:
        seen = [(r.call.name, r.artifact) for r in turn.conv.results if r.ok and r.artifact is not None]
        recs = writer.recommendations(seen, turn.gaps)
    if plan.idle and not items:
        topics = t.phrases.topics
        names = [topics[b] for b in turn.bound if b in topics and b not in turn.unanswerable][:3]
        available = " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names) or "other numbers"
        if plan.unavailable:
            what = topics.get(plan.unavailable, "that")
            return tone.pick(t.phrases.unavailable, "unavailable").format(what=what, available=available)
        return tone.pick(t.phrases.idle, "idle").format(available=available)
    offer = "" if recommend else writer.offer(stage)
    problems = caveat_problems(turn.conv.results, [i.tool for i in items]) if _DIGIT.search(facts_text) else ""
    caveat = tone.pick(t.phrases.data_caveat, "data_caveat").format(problems=problems) if problems else ""
    return writer.write(
        head=_head(turn, turn.conv.is_opening),
        items=items,
        focus=plan.focus,
        errors=[*errors, caveat] if caveat else errors,
        recommendations=recs,
        offer=offer,
    )


def _tool_call_message(conv: History, calls: Sequence[_Call]) -> AIMessage:
    start = len(conv.calls)
    return AIMessage(
        content="",
        tool_calls=[
            {"name": c.tool, "args": c.args, "id": f"call_{start + i}", "type": "tool_call"}
            for i, c in enumerate(calls)
        ],
    )


def _decide(turn: _Turn) -> AIMessage:
    conv = turn.conv
    plan = _plan(turn)
    if conv.ends_with_results:
        if conv.turn_rounds == 1:
            made = {r.call.key for r in conv.turn_results}
            retries = []
            for failed in (r for r in conv.turn_results if not r.ok):
                retry = _retry(turn, failed)
                if retry is None:
                    continue
                key = HistoryCall("", retry.tool, retry.args, 0).key
                if key not in made:
                    made.add(key)
                    retries.append(retry)
            if retries:
                return _tool_call_message(conv, retries)
        return AIMessage(content=_answer(turn, plan))
    new = [c for c in plan.calls if conv.find(c.tool, c.args) is None]
    if new:
        if needs_quality_check(turn.ctx, turn.bound, [c.name for c in conv.calls] + [c.tool for c in new]):
            new.insert(0, _Call(QUALITY_TOOL, {}, QUALITY_TOOL))  # the caveats then rest on a visible result
        return _tool_call_message(conv, new)
    return AIMessage(content=_answer(turn, plan))


# --------------------------------------------------------------------------- the model


class RuleBasedCJ(BaseChatModel):
    """Offline, deterministic CJ: intent -> tool call -> grounded templated answer.

    Args:
        seed: chooses among phrasing variants; same seed and messages, same reply.
        bound_tools: tool names set by :meth:`bind_tools` (``None``: every tool).
        turn_context: workflow position and merchant manner set by :meth:`with_turn_context`.
        catalog: the intents and templates it works from (default: ``Catalog.default()``).

    Example:
        >>> from langchain_core.messages import HumanMessage
        >>> cj = RuleBasedCJ(seed=1).bind_tools(["get_ticket_metrics"])
        >>> cj.invoke([HumanMessage("How fast are we answering tickets this week?")]).tool_calls[0]["args"]
        {'time_range': '7d'}
    """

    seed: int = 0
    bound_tools: tuple[str, ...] | None = None
    turn_context: CJTurnContext | None = None
    catalog: Catalog | None = None

    @property
    def _llm_type(self) -> str:
        return "rule-based-cj"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": "rules", "seed": self.seed}

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool | str],
        **kwargs: Any,
    ) -> RuleBasedCJ:
        """A copy that may call exactly these tools (by name)."""
        names = tuple(n for n in (_tool_name(t) for t in tools) if n)
        return self.model_copy(update={"bound_tools": names})

    def with_turn_context(self, ctx: CJTurnContext | None) -> RuleBasedCJ:
        """A copy that knows the workflow position and the merchant's stress and style."""
        return self.model_copy(update={"turn_context": ctx})

    @property
    def resolved_catalog(self) -> Catalog:
        """The catalog this model works from."""
        return self.catalog or Catalog.default()

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        bound = self.bound_tools if self.bound_tools is not None else TOOL_NAMES
        turn = _Turn(History(messages), self.turn_context, tuple(bound), self.resolved_catalog, self.seed)
        return ChatResult(generations=[ChatGeneration(message=_decide(turn))])
