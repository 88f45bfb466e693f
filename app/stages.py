"""Milestones: workflow stages completed by what is said, with patterns from ``data/milestones.yaml``."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from pydantic import Field, field_validator

from app.datafiles import data_dir, load_model
from app.models import MILESTONES, RegexPattern, StrictModel

__all__ = ["milestones_in"]


class MilestoneRule(StrictModel):
    speaker: str = Field(pattern=r"^(cj|merchant)$")
    patterns: list[RegexPattern] = Field(min_length=1)


class MilestoneFile(StrictModel):
    version: int = Field(ge=1)
    milestones: dict[str, MilestoneRule]

    @field_validator("milestones")
    @classmethod
    def _known(cls, value: dict[str, MilestoneRule]) -> dict[str, MilestoneRule]:
        unknown = set(value) - set(MILESTONES)
        if unknown:
            raise ValueError(f"unknown milestones {sorted(unknown)}; valid: {', '.join(MILESTONES)}")
        return value


@cache
def _rules(path: Path) -> list[tuple[str, str, list[re.Pattern[str]]]]:
    parsed = load_model(path, MilestoneFile)
    return [
        (name, rule.speaker, [re.compile(p, re.IGNORECASE) for p in rule.patterns])
        for name, rule in parsed.milestones.items()
    ]


def milestones_in(text: str, speaker: str, replying_to: bool = True) -> set[str]:
    """Milestones a message by ``speaker`` achieves (``answered`` only when replying to the merchant)."""
    found = set()
    for name, who, patterns in _rules(data_dir() / "milestones.yaml"):
        if who != speaker or (name == "answered" and not replying_to):
            continue
        if any(p.search(text) for p in patterns):
            found.add(name)
    return found
