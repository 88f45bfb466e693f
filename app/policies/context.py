"""What the conversation graph tells a CJ model about the turn, beyond the messages.

LLM-backed CJ gets the same facts in its system prompt; models that implement
``with_turn_context(ctx)`` (the rule-based CJ) receive them as data.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.models import CommunicationStyle, Stage, StressLevel

__all__ = ["CJTurnContext", "MERCHANT_DONE"]

MERCHANT_DONE = "[DONE]"
"""A merchant message containing this marker ends the conversation (merchant_done); the marker is stripped."""


@dataclass(frozen=True)
class CJTurnContext:
    """The workflow position and the merchant's manner at one CJ turn.

    Attributes:
        workflow: current workflow name.
        stages: the workflow's conversation flow, in order.
        stages_reached: ids of stages of this workflow already completed.
        stress_level: the merchant's stress level (sets CJ's tone).
        communication_style: the merchant's style (direct, collaborative, scattered).
        merchant_name: the merchant's display name, e.g. "Marcus Thompson".
        business_name: e.g. "Grill Masters Club".
        turn: number of merchant messages so far.
        data_gaps: what the merchant's data holds none of, as views word it ("no subscription data").
        data_quality: the data_quality view's verdict (ok, caveat, poor; unknown when it cannot tell).
            When not ok, CJ checks the view itself, so the transcript shows what its caveat rests on.
    """

    workflow: str
    stages: tuple[Stage, ...]
    stages_reached: tuple[str, ...]
    stress_level: StressLevel
    communication_style: CommunicationStyle
    merchant_name: str
    business_name: str
    turn: int
    data_gaps: frozenset[str] = frozenset()
    data_quality: str = "ok"

    @property
    def pending_stages(self) -> tuple[Stage, ...]:
        """Stages not reached yet, in flow order."""
        return tuple(s for s in self.stages if s.id not in self.stages_reached)
