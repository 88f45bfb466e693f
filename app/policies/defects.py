"""Deliberately defective variants of the rule-based CJ, for calibrating the evaluators.

The data-side variants (``hallucinate_numbers``, ``wrong_metric``, ``stale_window``,
``wrong_customer``) live in :mod:`app.policies.data_defects`. Each variant is the real :class:`~app.policies.rule_cj.RuleBasedCJ` with one flaw, as
deterministic as the original (same seed and messages, same reply). Select one with the model
spec ``rules:<defect>`` (``cjsim run --cj-model rules:skip_tools``). Wording lives in
``data/prompts/defects.yaml``.

=======================  ==========================================================  ====================
defect                   what goes wrong                                             caught by
=======================  ==========================================================  ====================
``hallucinate_numbers``  answers from a copy of its results with scaled numbers      grounding
``wrong_metric``         answers from a copy in which metrics of one unit trade       grounding
                         values
``stale_window``         fetches another window and presents it as the asked one     grounding
``wrong_customer``       answers from a copy in which customers have invented names  grounding
``skip_tools``           never calls a tool; answers with invented numbers           tool_use
``ignored_tool_error``   its calls fail (invalid arguments); it answers as if the    tool_use
                         data had come back, with invented numbers
``overpromise``          offers refunds, discounts, pauses no tool of its can do     style
``off_workflow``         ignores the workflow: follows another workflow's stages     workflow_adherence
                         in reverse, pushes them into every tool round, ignores the
                         tool binding (calls tools the workflow does not offer)
``leak_reasoning``       replies carry its internal reasoning ("Thought: ...")        style
``ignore_question``      answers every question with a fixed other topic's data      style
=======================  ==========================================================  ====================

Example:
    >>> from langchain_core.messages import HumanMessage
    >>> cj = make_defective_cj("skip_tools", seed=0).bind_tools(["get_financial_metrics"])
    >>> reply = cj.invoke([HumanMessage("How bad is churn this month?")])
    >>> reply.tool_calls, "%" in reply.content
    ([], True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any, ClassVar

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from app.analysis.arguments import tool_has_arg
from app.catalog import Catalog
from app.errors import UnknownNameError
from app.policies.data_defects import DATA_DEFECTS
from app.policies.defect_base import DefectiveCJ as _DefectiveCJ
from app.policies.defect_base import defect_wording
from app.policies.defect_base import latest_request as _latest_request
from app.policies.defect_base import turn_no as _turn_no
from app.policies.defect_base import unit as _unit
from app.policies.history import History, text_of
from app.policies.rule_cj import RuleBasedCJ
from app.policies.tone import pick
from app.tools import VIEW_TOOLS as TOOL_NAMES
from app.workflows import WorkflowCatalog

__all__ = ["DEFECTS", "defect_wording", "make_defective_cj"]


# --------------------------------------------------------------------------- skip_tools


class ToolSkippingCJ(_DefectiveCJ):
    """Never calls a tool: answers every message with generic text and invented numbers."""

    defect: ClassVar[str] = "skip_tools"

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        catalog = self.resolved_catalog
        wording = catalog.prompts.defects.skip_tools
        request = _latest_request(messages)
        turn = _turn_no(messages)
        found = catalog.intents.detect(request)
        tool = next((m.intent.tool for m in found if m.intent.tool), None)
        templates = wording.answers.get(tool or "", wording.default)
        text = pick(templates, self.seed, turn, "answer")
        text = text.format(**self._invented(turn))
        if any(m.intent.id in catalog.prompts.rule_cj.recommend_intents for m in found):
            text = f"{text}\n\n{pick(wording.advice, self.seed, turn, 'advice')}"
        return AIMessage(content=text)

    def _invented(self, turn: int) -> dict[str, str]:
        u = lambda name: _unit(self.seed, turn, name)
        return {
            "money": f"${500 + u('money') * 90_000:,.0f}",
            "money2": f"${20 + u('money2') * 120:,.2f}",
            "pct": f"{1 + u('pct') * 30:.1f}%",
            "count": f"{3 + int(u('count') * 1500):,}",
            "hours": f"{0.5 + u('hours') * 20:.1f}h",
            "score": f"{2 + u('score') * 3:.2f}",
        }


# --------------------------------------------------------------------------- off_workflow


@lru_cache(maxsize=256)
def _foreign_stages(catalog: WorkflowCatalog, workflow: str, seed: int) -> tuple[Any, ...]:
    """Another workflow's tool stages, reversed: the one sharing fewest stage tools (seed breaks ties)."""
    own = {s.tool for s in catalog.get(workflow).conversation_flow if s.tool} if workflow in catalog.by_name else set()
    scored = []
    for w in catalog.by_name.values():
        tools = [s for s in w.conversation_flow if s.tool]
        if w.name == workflow or not tools:
            continue
        scored.append((len({s.tool for s in tools} & own), _unit(seed, "foreign", w.name), tuple(reversed(tools))))
    return min(scored)[2] if scored else ()


class OffWorkflowCJ(_DefectiveCJ):
    """Ignores its workflow: drives another workflow's stages in reverse and calls unbound tools."""

    defect: ClassVar[str] = "off_workflow"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> OffWorkflowCJ:
        """Ignores the binding: every tool stays callable."""
        return self.model_copy(update={"bound_tools": None})

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        ctx = self.turn_context
        stages = _foreign_stages(self.resolved_catalog.workflows, ctx.workflow if ctx else "", self.seed)
        conv = History(messages)
        pending = [s for s in stages if not conv.called_ok(s.tool)]
        if ctx is not None:
            done = tuple(s.id for s in stages if s not in pending)
            foreign = replace(ctx, stages=stages, stages_reached=done)
            model = self.model_copy(update={"turn_context": foreign})
        else:
            model = self
        message = model._clean_reply(messages)
        # its own agenda goes first in every tool round
        attempted = {c.name for c in conv.calls}
        agenda = next((s for s in pending if s.tool not in attempted), None)
        if message.tool_calls and agenda is not None and all(c["name"] != agenda.tool for c in message.tool_calls):
            first = {"name": agenda.tool, "args": dict(agenda.args), "id": f"call_{len(conv.calls)}", "type": "tool_call"}
            rest = [{**c, "id": f"call_{len(conv.calls) + 1 + i}"} for i, c in enumerate(message.tool_calls)]
            message = AIMessage(content="", tool_calls=[first, *rest])
        return message


# --------------------------------------------------------------------------- leak_reasoning


class LeakingCJ(_DefectiveCJ):
    """Replies carry its internal reasoning and notes to itself."""

    defect: ClassVar[str] = "leak_reasoning"

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        reply = self._clean_reply(messages)
        if not reply.content or reply.tool_calls:
            return reply
        wording = self.resolved_catalog.prompts.defects.leak_reasoning
        request = _latest_request(messages)
        found = self.resolved_catalog.intents.detect(request)
        topic = found[0].intent.id.replace("_", " ") if found else "how things are going"
        since = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
        called = list(dict.fromkeys(m.name for m in messages[since + 1 :] if isinstance(m, ToolMessage) and m.name))
        tools = " and ".join(called) or wording.nothing_called
        turn = _turn_no(messages)
        thought = pick(wording.thoughts, self.seed, turn, "thought").format(topic=topic, tools=tools)
        note = pick(wording.notes, self.seed, turn, "note").format(topic=topic, tools=tools)
        return reply.model_copy(update={"content": f"{thought}\n{text_of(reply)}\n\n{note}"})


# --------------------------------------------------------------------------- ignore_question


class QuestionIgnoringCJ(_DefectiveCJ):
    """Answers every question with another topic's data: the workflow's first stage tool, or a default."""

    defect: ClassVar[str] = "ignore_question"

    def _substitute(self, text: str, bound: Sequence[str]) -> str | None:
        asked: set[str] = set()
        catalog = self.resolved_catalog
        for m in catalog.intents.detect(text):
            if m.intent.tool:
                asked.add(m.intent.tool)
                asked.update(catalog.intents.fallback_tools(m.intent.tool))
        if not asked:
            return None  # no question a tool answers: nothing to ignore
        ctx = self.turn_context
        first_stage = [s.tool for s in ctx.stages if s.tool] if ctx else []
        questions = catalog.prompts.defects.ignore_question.questions
        for tool in [*first_stage[:1], *catalog.prompts.rule_cj.default_tools, *bound]:
            if tool in bound and tool not in asked and tool in questions:
                return questions[tool]
        return None

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        bound = self.bound_tools if self.bound_tools is not None else TOOL_NAMES
        heard: list[BaseMessage] = []
        for m in messages:
            if isinstance(m, HumanMessage):
                other = self._substitute(text_of(m), bound)
                if other is not None:
                    m = HumanMessage(content=other, name=m.name)
            heard.append(m)
        return self._clean_reply(heard)


# --------------------------------------------------------------------------- overpromise


class OverpromisingCJ(_DefectiveCJ):
    """Offers to do things no tool or action it is given can do (refunds, discounts, pauses)."""

    defect: ClassVar[str] = "overpromise"

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        reply = self._clean_reply(messages)
        if not reply.content or reply.tool_calls:
            return reply
        offers = self.resolved_catalog.prompts.defects.overpromise.offers
        offer = pick(offers, self.seed, _turn_no(messages), "overpromise")
        return reply.model_copy(update={"content": f"{text_of(reply)}\n\n{offer}"})


# --------------------------------------------------------------------------- ignored_tool_error


class IgnoredErrorCJ(ToolSkippingCJ):
    """Its calls fail (invalid arguments) and it answers as if the data had come back."""

    defect: ClassVar[str] = "ignored_tool_error"

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        if History(messages).ends_with_results:
            return super()._reply(messages)  # no retry, no "I couldn't get it": invented numbers
        reply = self._clean_reply(messages)
        if not reply.tool_calls:
            return reply
        bad = self.resolved_catalog.prompts.defects.ignored_tool_error.bad_args
        calls = []
        for c in reply.tool_calls:
            taken = {k: v for k, v in bad.items() if tool_has_arg(c["name"], k)}
            first = next(iter(bad))
            calls.append({**c, "args": {**c["args"], **(taken or {first: bad[first]})}})
        return reply.model_copy(update={"tool_calls": calls})


# --------------------------------------------------------------------------- registry

_VARIANTS: tuple[type[_DefectiveCJ], ...] = (
    *DATA_DEFECTS,
    ToolSkippingCJ,
    OffWorkflowCJ,
    LeakingCJ,
    QuestionIgnoringCJ,
    OverpromisingCJ,
    IgnoredErrorCJ,
)
DEFECTS: dict[str, type[_DefectiveCJ]] = {cls.defect: cls for cls in _VARIANTS}
"""Defect name -> variant class (``rules:<name>``)."""


def make_defective_cj(defect: str, seed: int = 0, catalog: Catalog | None = None) -> RuleBasedCJ:
    """The rule-based CJ with ``defect``; raises :class:`UnknownNameError` listing the defects."""
    try:
        cls = DEFECTS[defect]
    except KeyError:
        raise UnknownNameError("rules variant", defect, DEFECTS, hint="use 'rules' for the clean rule-based CJ") from None
    return cls(seed=seed, catalog=catalog)
