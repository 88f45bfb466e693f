"""The format of ``data/prompts/scripted_merchant.yaml``: the scripted merchant's phrasing.

Read by :class:`~app.catalog.Catalog`; used by :class:`~app.policies.scripted_merchant.ScriptedMerchant`.
The format is described in ``data/prompts/README.md``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from app.models import CommunicationStyle, Placeholders, RegexPattern, StrictModel

__all__ = ["MerchantStyle", "AlertFeedbackStyle", "MerchantScript"]

_VALUES = ("opening", "opening_lc", "business_name", "worry", "worry2")
"""Placeholders every formatted phrase may use (see ``ScriptedMerchant._say``)."""


class MerchantStyle(StrictModel):
    """Phrases of one communication style (each a list; one is chosen by seed and turn)."""

    opening: list[Annotated[str, Placeholders(*_VALUES)]] = Field(
        min_length=1, description="First message; {opening}, {opening_lc}, {business_name}, {worry}, {worry2}."
    )
    react_opening: list[str] = Field(min_length=1, description="Reaction when CJ opened the conversation.")
    react: list[str] = Field(min_length=1, description="Reaction to an ordinary answer.")
    react_worried: list[str] = Field(min_length=1, description="Reaction to alarming news.")
    react_steps: list[str] = Field(min_length=1, description="Reaction to recommended next steps.")
    ask: list[Annotated[str, Placeholders("react", "ask", "ask_lc", *_VALUES)]] = Field(
        min_length=1, description="A goal's question; {react}, {ask}, {ask_lc} and the opening's placeholders."
    )
    pushback: list[str] = Field(min_length=1, description="CJ answered without numbers.")
    list_request: list[str] = Field(min_length=1, description="CJ mentioned at-risk customers.")
    done: list[str] = Field(min_length=1, description="Every goal is settled (the done marker is appended).")
    worries: list[str] = Field(min_length=1, description="Side worries (scattered run-on messages).")


Spoken = Literal["accurate", "somewhat accurate", "inaccurate"]


class AlertFeedbackStyle(StrictModel):
    """How a communication style gives feedback on an alert (a goal with ``feedback: alert``)."""

    phrase: list[Annotated[str, Placeholders("accuracy", "priority")]] = Field(
        min_length=1, description="The feedback sentence; {accuracy} and {priority} (1-5) are filled in."
    )
    stayed: Spoken = Field(description="Accuracy said when the customer did not leave within the horizon.")
    unknown: Spoken = Field(description="Accuracy said when the future cannot be checked (a database).")
    priority_shift: int = Field(default=0, ge=-2, le=2, description="Added to the priority of the severity.")


class MerchantScript(StrictModel):
    """The whole ``data/prompts/scripted_merchant.yaml``."""

    version: int = Field(ge=1)
    at_risk_pattern: RegexPattern = Field(description="CJ's reply mentions at-risk customers (regex).")
    worried_pattern: RegexPattern = Field(description="CJ's reply carries alarming news (regex).")
    steps_pattern: RegexPattern = Field(description="CJ's reply recommends next steps (regex).")
    styles: dict[CommunicationStyle, MerchantStyle]
    alert_feedback: dict[CommunicationStyle, AlertFeedbackStyle] = Field(
        description="Feedback on an alert per communication style (the alert_triage workflow)."
    )

    @field_validator("styles", "alert_feedback")
    @classmethod
    def _all_styles(cls, styles: dict[CommunicationStyle, StrictModel]) -> dict[CommunicationStyle, StrictModel]:
        missing = [s.value for s in CommunicationStyle if s not in styles]
        if missing:
            raise ValueError(f"add phrases for styles {missing}")
        return styles
