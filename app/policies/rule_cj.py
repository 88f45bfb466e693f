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
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import BaseTool

from app.catalog import Catalog
from app.models import Stage
from app.policies.caveats import QUALITY_TOOL, caveat_problems, needs_quality_check
from app.policies.cj_answers import AnswerWriter, Presented
from app.policies.cj_plan import Call, Plan, Turn, plan_turn, retry_call
from app.policies.context import CJTurnContext
from app.policies.history import History, HistoryCall
from app.tools import DECLINED
from app.tools import VIEW_TOOLS as TOOL_NAMES

__all__ = ["RuleBasedCJ"]

_DIGIT = re.compile(r"\d")


def _tool_name(tool: Any) -> str:
    if isinstance(tool, str):
        return tool
    if isinstance(tool, BaseTool):
        return tool.name
    if isinstance(tool, dict):
        return str(tool.get("name") or tool.get("function", {}).get("name", ""))
    return str(getattr(tool, "name", None) or getattr(tool, "__name__", ""))



# --------------------------------------------------------------------------- answering


def _present(turn: Turn, plan: Plan, back: bool) -> list[Presented]:
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
    if not chosen and back:  # back the advice (or a declined action's outcome) with the key number it rests on
        seen = [r for r in conv.results if r.ok and r.artifact is not None]
        source = next((r for r in reversed(seen) if (r.artifact or {}).get("recommended_actions")), seen[-1] if seen else None)
        if source is not None:
            backing = Presented(source.call.name, source.call.name, source.artifact, source.content, 1, numeric=True)
            chosen.append((backing, False))
    return [p for p, _ in chosen]


def _errors(turn: Turn) -> list[tuple[str, str]]:
    """Failed calls of this turn that no later call of the same tool fixed: (tool, message)."""
    results = turn.conv.turn_results
    out: dict[str, str] = {}
    for i, r in enumerate(results):
        if not r.ok and not any(later.ok and later.call.name == r.call.name for later in results[i + 1 :]):
            out[r.call.name] = r.content
    return list(out.items())


def _next_stage(turn: Turn, items: Sequence[Presented], stated_numbers: bool) -> Stage | None:
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


def _head(turn: Turn, opening: bool) -> str:
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


def _answer(turn: Turn, plan: Plan) -> str:
    t = turn.templates
    tone = turn.tone
    writer = AnswerWriter(t, tone)
    if plan.closing:
        return tone.pick(t.phrases.sign_off, "sign_off")
    failed = _errors(turn)
    declined = any(content.startswith(DECLINED) for _, content in failed)
    items = _present(turn, plan, back=plan.recommend or declined)
    errors = [
        writer.declined_note(tool) if content.startswith(DECLINED) else writer.error_note(tool, content)
        for tool, content in failed
    ]
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
    head = _head(turn, turn.conv.is_opening)
    if plan.unavailable:  # the question had no tool here: say so before going on
        what = t.phrases.topics.get(plan.unavailable, "that")
        head = f"{head} {tone.pick(t.phrases.unavailable_aside, 'unavailable_aside').format(what=what)}"
    return writer.write(
        head=head,
        items=items,
        focus=plan.focus,
        errors=[*errors, caveat] if caveat else errors,
        recommendations=recs,
        offer=offer,
    )


def _tool_call_message(conv: History, calls: Sequence[Call]) -> AIMessage:
    start = len(conv.calls)
    return AIMessage(
        content="",
        tool_calls=[
            {"name": c.tool, "args": c.args, "id": f"call_{start + i}", "type": "tool_call"}
            for i, c in enumerate(calls)
        ],
    )


def _decide(turn: Turn) -> AIMessage:
    conv = turn.conv
    plan = plan_turn(turn)
    if conv.ends_with_results:
        if conv.turn_rounds == 1:
            made = {r.call.key for r in conv.turn_results}
            retries = []
            for failed in (r for r in conv.turn_results if not r.ok):
                retry = retry_call(turn, failed)
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
            new.insert(0, Call(QUALITY_TOOL, {}, QUALITY_TOOL))  # the caveats then rest on a visible result
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
        turn = Turn(History(messages), self.turn_context, tuple(bound), self.resolved_catalog, self.seed)
        return ChatResult(generations=[ChatGeneration(message=_decide(turn))])
