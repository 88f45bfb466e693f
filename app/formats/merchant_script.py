"""The format of ``data/prompts/scripted_merchant.yaml``: the scripted merchant's phrasing.

Read by :class:`~app.catalog.Catalog`; used by :class:`~app.policies.scripted_merchant.ScriptedMerchant`.
The format is described in ``data/prompts/README.md``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from app.models import CommunicationStyle, Placeholders, RegexPattern, StrictModel

__all__ = ["MerchantStyle", "MerchantScript"]

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


class MerchantScript(StrictModel):
    """The whole ``data/prompts/scripted_merchant.yaml``."""

    version: int = Field(ge=1)
    at_risk_pattern: RegexPattern = Field(description="CJ's reply mentions at-risk customers (regex).")
    worried_pattern: RegexPattern = Field(description="CJ's reply carries alarming news (regex).")
    steps_pattern: RegexPattern = Field(description="CJ's reply recommends next steps (regex).")
    styles: dict[CommunicationStyle, MerchantStyle]

    @field_validator("styles")
    @classmethod
    def _all_styles(cls, styles: dict[CommunicationStyle, MerchantStyle]) -> dict[CommunicationStyle, MerchantStyle]:
        missing = [s.value for s in CommunicationStyle if s not in styles]
        if missing:
            raise ValueError(f"add phrases for styles {missing}")
        return styles
