"""The format of ``data/prompts/defects.yaml``: wording of the deliberately defective CJ variants.

Read by :class:`~app.catalog.Catalog`; used by :mod:`app.policies.defects`. The format is
described in ``data/prompts/README.md``.
"""

from __future__ import annotations

from typing import Annotated, Any, get_args

from pydantic import Field, field_validator

from app.models import Placeholders, StrictModel
from app.tools import VIEW_TOOLS as TOOL_NAMES
from app.views import VIEWS
from app.views.base import TimeRange

__all__ = ["DefectWording"]


class _Hallucinate(StrictModel):
    factors: list[float] = Field(min_length=1, description="Multipliers of the tool results' numbers (per field, by seed).")

    @field_validator("factors")
    @classmethod
    def _moves(cls, value: list[float]) -> list[float]:
        if any(abs(f - 1.0) < 0.05 or f <= 0 for f in value):
            raise ValueError("every factor must be positive and at least 5% away from 1, or the numbers stay right")
        return value


class _WrongMetric(StrictModel):
    groups: dict[str, list[list[str]]] = Field(
        description="Per view: groups of fields (dotted paths) of one unit whose values rotate."
    )

    @field_validator("groups")
    @classmethod
    def _known(cls, value: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
        for view, groups in value.items():
            if view not in VIEWS:
                raise ValueError(f"unknown view {view!r}; valid views: {', '.join(VIEWS)}")
            fields = VIEWS[view].result.model_fields
            for group in groups:
                unknown = [p for p in group if p.split(".")[0] not in fields]
                if unknown or len(group) < 2:
                    raise ValueError(f"{view}: a group needs at least two fields of the view, got {group}")
        return value


class _StaleWindow(StrictModel):
    windows: dict[str, str] = Field(description="Asked window -> the window actually fetched (a permutation).")

    @field_validator("windows")
    @classmethod
    def _permutation(cls, value: dict[str, str]) -> dict[str, str]:
        valid = set(get_args(TimeRange))
        unknown = sorted((set(value) | set(value.values())) - valid)
        if unknown:
            raise ValueError(f"unknown windows {unknown}; valid windows: {', '.join(sorted(valid))}")
        if sorted(value) != sorted(value.values()) or any(k == v for k, v in value.items()):
            raise ValueError("windows must map each window to another one, each used once (a permutation)")
        return value


class _WrongCustomer(StrictModel):
    name_fields: list[str] = Field(min_length=1, description="Result fields holding customer names.")
    first_names: list[str] = Field(min_length=1)
    last_names: list[str] = Field(min_length=1)


class _Overpromise(StrictModel):
    offers: list[str] = Field(min_length=1, description="Offers of things no tool or action of CJ can do.")


class _IgnoredError(StrictModel):
    bad_args: dict[str, Any] = Field(
        min_length=1, description="Argument -> invalid value; a call gets those its tool takes, else the first."
    )


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
    wrong_metric: _WrongMetric
    stale_window: _StaleWindow
    wrong_customer: _WrongCustomer
    overpromise: _Overpromise
    ignored_tool_error: _IgnoredError
