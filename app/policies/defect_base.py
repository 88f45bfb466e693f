"""The base of the deliberately defective CJ variants, and the helpers they share.

A variant is the real :class:`~app.policies.rule_cj.RuleBasedCJ` whose reply goes through one
defect (:meth:`DefectiveCJ._reply`); the variants live in :mod:`app.policies.defects` (wording and
workflow defects) and :mod:`app.policies.data_defects` (defects made on the data side).
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from app.catalog import Catalog
from app.formats.defects import DefectWording
from app.policies.history import text_of
from app.policies.rule_cj import RuleBasedCJ

__all__ = ["DefectiveCJ", "defect_wording", "unit", "turn_no", "latest_request"]


def defect_wording() -> DefectWording:
    """The defect variants' wording of the default catalog."""
    return Catalog.default().prompts.defects


def unit(seed: int, *salt: object) -> float:
    """A stable pseudo-random number in [0, 1) for the seed and salt."""
    digest = hashlib.sha256(repr((seed, *salt)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def turn_no(messages: Sequence[BaseMessage]) -> int:
    """How many merchant messages there are so far."""
    return sum(1 for m in messages if isinstance(m, HumanMessage))


def latest_request(messages: Sequence[BaseMessage]) -> str:
    """The latest merchant message ('' when CJ opens)."""
    return next((text_of(m) for m in reversed(messages) if isinstance(m, HumanMessage)), "")


class DefectiveCJ(RuleBasedCJ):
    """A rule-based CJ whose reply goes through one defect."""

    defect: ClassVar[str] = ""

    @property
    def _llm_type(self) -> str:
        return f"rule-based-cj-{self.defect}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": f"rules:{self.defect}", "seed": self.seed}

    def _clean_reply(self, messages: list[BaseMessage]) -> AIMessage:
        """What the clean rule-based CJ would say."""
        message = super()._generate(messages).generations[0].message
        assert isinstance(message, AIMessage)
        return message

    @abstractmethod
    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        """The defective reply; each variant defines it."""

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])
