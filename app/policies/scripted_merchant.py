"""The scripted merchant: a deterministic chat model that pursues a scenario's goals.

It opens with the scenario's ``opening_line`` (or, when CJ opened, reacts and asks the first
goal), then asks each of ``scenario.merchant_goals`` in order. A goal counts as answered when
CJ's next reply contains a number; if it does not, the merchant pushes back once ("Can you give
me actual numbers?") and then moves on. When CJ mentions at-risk customers it asks once which
customers exactly. With every goal settled it thanks CJ and writes :data:`MERCHANT_DONE`.

The model keeps no state between calls: it replays its own decisions over the role-flipped
history it is given (its own lines are AI messages, CJ's replies are human messages). Wording
per communication style is in ``data/prompts/scripted_merchant.yaml``.

Example:
    >>> from langchain_core.messages import SystemMessage
    >>> from app.scenarios import get_persona, get_scenario
    >>> merchant = ScriptedMerchant(persona=get_persona("marcus_thompson"),
    ...                             scenario=get_scenario("shipping_crisis"), seed=0)
    >>> merchant.invoke([SystemMessage("You are the merchant.")]).content
    'The carrier is down and my inbox is exploding. Help.'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from app.catalog import Catalog
from app.formats.merchant_script import MerchantScript
from app.models import Persona, Scenario
from app.policies.context import MERCHANT_DONE
from app.policies.history import text_of
from app.policies.merchant_feedback import alert_feedback
from app.policies.tone import lower_first, pick

__all__ = ["merchant_script", "ScriptedMerchant"]


def merchant_script() -> MerchantScript:
    """The scripted merchant's phrases of the default catalog."""
    return Catalog.default().prompts.merchant_script


# --------------------------------------------------------------------------- decisions

_DIGIT = re.compile(r"\d")

ActionKind = Literal["open", "ask", "pushback", "list", "done"]


@dataclass(frozen=True)
class _Action:
    kind: ActionKind
    goal: int | None = None


@dataclass(frozen=True)
class _State:
    next_goal: int = 0
    open_question: int | None = None
    pushed: frozenset[int] = frozenset()
    list_requested: bool = False

    def after(self, action: _Action) -> _State:
        if action.kind == "ask":
            return replace(self, next_goal=(action.goal or 0) + 1, open_question=action.goal)
        if action.kind == "pushback":
            return replace(self, pushed=self.pushed | {action.goal or 0}, open_question=None)
        if action.kind == "list":
            return replace(self, list_requested=True, open_question=None)
        return replace(self, open_question=None)


def _split(history: Sequence[BaseMessage]) -> tuple[list[str], bool]:
    """CJ's replies before each of the merchant's turns (and after the last), and who opened."""
    lines = [m for m in history if not isinstance(m, SystemMessage)]
    cj_opened = bool(lines) and isinstance(lines[0], HumanMessage)
    replies: list[str] = []
    pending: list[str] = []
    for m in lines:
        if isinstance(m, AIMessage):
            replies.append("\n".join(pending))
            pending = []
        elif isinstance(m, HumanMessage):
            pending.append(text_of(m))
    replies.append("\n".join(pending))
    return replies, cj_opened


class ScriptedMerchant(BaseChatModel):
    """Offline, deterministic merchant that asks a scenario's goals in the persona's style.

    Args:
        persona: who the merchant is (communication style, business name).
        scenario: what they want to learn (``opening_line``, ``merchant_goals``).
        seed: chooses among phrasing variants.
        catalog: the data its phrasing comes from (default: ``Catalog.default()``).

    Example:
        >>> from langchain_core.messages import HumanMessage, SystemMessage
        >>> from app.scenarios import get_persona, get_scenario
        >>> m = ScriptedMerchant(persona=get_persona("marcus_thompson"), scenario=get_scenario("growth_stall"))
        >>> m.invoke([SystemMessage("..."), HumanMessage("Hi Marcus. MRR is $52,340.")]).content
        'OK. Next: Why has revenue stopped growing?'
    """

    persona: Persona
    scenario: Scenario
    seed: int = 0
    catalog: Catalog | None = None
    provider: Any = None
    """The data it is simulated in (a DataProvider): the alert it gives feedback on, and - in a
    generated world - whether that customer really left (app/policies/merchant_feedback.py)."""

    @property
    def _llm_type(self) -> str:
        return "scripted-merchant"

    @property
    def _script(self) -> MerchantScript:
        return (self.catalog or Catalog.default()).prompts.merchant_script

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": "script", "persona": self.persona.id, "scenario": self.scenario.id, "seed": self.seed}

    def decide_approval(self, request: dict[str, Any]) -> str:
        """Approve or decline CJ's request to act, as the persona's ``approvals`` say."""
        return self.persona.approvals.decision(str(request.get("action", "")))

    # ------------------------------------------------------------------ policy

    def _decide(self, state: _State, reply: str, first: bool, cj_opened: bool) -> _Action:
        script = self._script
        goals = self.scenario.merchant_goals
        if first and not cj_opened and self.scenario.opening_line:
            return _Action("open")
        if state.open_question is not None:
            if not _DIGIT.search(reply) and state.open_question not in state.pushed:
                return _Action("pushback", state.open_question)
        if not first and not state.list_requested and re.search(script.at_risk_pattern, reply, re.IGNORECASE):
            return _Action("list")
        if state.next_goal < len(goals):
            return _Action("ask", state.next_goal)
        return _Action("done")

    def _next_action(self, history: Sequence[BaseMessage]) -> tuple[_Action, list[str], int]:
        replies, cj_opened = _split(history)
        state = _State()
        action = _Action("done")
        for turn, reply in enumerate(replies):
            action = self._decide(state, reply, turn == 0, cj_opened)
            if turn < len(replies) - 1:
                state = state.after(action)
        return action, replies, len(replies) - 1

    # ------------------------------------------------------------------ wording

    def _feedback(self, replies: Sequence[str]) -> str:
        """The feedback sentence on the alert CJ showed ('' when there is none to give)."""
        style = self._script.alert_feedback[self.persona.communication_style]
        fb = alert_feedback(self.provider, replies, style)
        if fb is None:
            return ""
        phrase = pick(style.phrase, self.seed, self.scenario.id, len(replies), "feedback")
        return phrase.format(accuracy=fb.accuracy, priority=fb.priority)

    def _say(self, action: _Action, replies: Sequence[str], turn: int, cj_opened: bool) -> str:
        reply = replies[-1]
        script = self._script
        style = script.styles[self.persona.communication_style]

        def choose(options: Sequence[str], *salt: object) -> str:
            return pick(options, self.seed, self.scenario.id, turn, *salt)

        worry = choose(style.worries, "worry")
        others = [w for w in style.worries if w != worry] or [worry]
        values = {
            "opening": self.scenario.opening_line or "",
            "opening_lc": lower_first(self.scenario.opening_line or ""),
            "business_name": self.persona.business_name,
            "worry": worry,
            "worry2": choose(others, "worry2"),
        }
        if action.kind == "open":
            text = choose(style.opening, "open").format(**values)
        elif action.kind == "ask":
            ask = self.scenario.merchant_goals[action.goal or 0].ask
            if turn == 0:
                react = choose(style.react_opening, "react") if cj_opened else ""
            elif re.search(script.steps_pattern, reply, re.IGNORECASE):
                react = choose(style.react_steps, "react")
            elif re.search(script.worried_pattern, reply, re.IGNORECASE):
                react = choose(style.react_worried, "react")
            else:
                react = choose(style.react, "react")
            text = choose(style.ask, "ask").format(react=react, ask=ask, ask_lc=lower_first(ask), **values)
            if self.scenario.merchant_goals[action.goal or 0].feedback == "alert":
                text = f"{text} {self._feedback(replies)}"
        elif action.kind == "pushback":
            text = choose(style.pushback, "pushback")
        elif action.kind == "list":
            text = choose(style.list_request, "list")
        else:
            text = f"{choose(style.done, 'done')} {MERCHANT_DONE}"
        return re.sub(r"\s+", " ", text).strip()

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        action, replies, turn = self._next_action(messages)
        _, cj_opened = _split(messages)
        text = self._say(action, replies, turn, cj_opened)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])
