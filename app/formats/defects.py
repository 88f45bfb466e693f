"""The format of ``data/prompts/defects.yaml``: wording of the deliberately defective CJ variants.

Read by :class:`~app.catalog.Catalog`; used by :mod:`app.policies.defects`. The format is
described in ``data/prompts/README.md``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator

from app.models import Placeholders, StrictModel
from app.tools import VIEW_TOOLS as TOOL_NAMES

__all__ = ["DefectWording"]


class _Hallucinate(StrictModel):
    factors: list[float] = Field(min_length=1, description="Multipliers for stated numbers (chosen by seed).")


_Invented = Annotated[str, Placeholders("money", "money2", "pct", "count", "hours", "score")]
"""An invented answer: placeholders for made-up numbers (see ``ToolSkippingCJ._invented``)."""


def _known_tools(value: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(value) - set(TOOL_NAMES))
    if unknown:
        raise ValueError(f"unknown tools {unknown}; valid tools: {', '.join(TOOL_NAMES)}")
    return value


class _SkipTools(StrictModel):
    answers: dict[str, list[_Invented]] = Field(description="Per tool a question is about: invented answers.")
    default: list[_Invented] = Field(min_length=1)
    advice: list[str] = Field(min_length=1, description="Invented recommendations, for advice requests.")

    _tools = field_validator("answers")(_known_tools)


_Leaked = Annotated[str, Placeholders("topic", "tools")]
"""Leaked text: what the merchant asked about and the tools called (see ``LeakingCJ._reply``)."""


class _Leak(StrictModel):
    thoughts: list[_Leaked] = Field(min_length=1, description="Leaked reasoning; {topic}, {tools}.")
    notes: list[_Leaked] = Field(min_length=1, description="Leaked internal notes; {topic}, {tools}.")
    nothing_called: str


class _Ignore(StrictModel):
    questions: dict[str, str] = Field(description="Per substitute tool: the question CJ pretends it was asked.")

    _tools = field_validator("questions")(_known_tools)


class DefectWording(StrictModel):
    """The whole ``data/prompts/defects.yaml``."""

    version: int = Field(ge=1)
    hallucinate_numbers: _Hallucinate
    skip_tools: _SkipTools
    leak_reasoning: _Leak
    ignore_question: _Ignore
