"""Milestones: workflow stages completed by what is said, with patterns from ``milestones.yaml``.

The :class:`Milestones` of a data folder live in the :class:`~app.catalog.Catalog`;
:func:`milestones_in` is a shortcut to the default catalog.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator

from app.datafiles import load_model
from app.models import MILESTONES, RegexPattern, StrictModel

__all__ = ["MilestoneRule", "MilestoneFile", "Milestones", "milestones_in"]


class MilestoneRule(StrictModel):
    """Who achieves a milestone, and the patterns that recognise it."""

    speaker: str = Field(pattern=r"^(cj|merchant)$")
    patterns: list[RegexPattern] = Field(min_length=1)


class MilestoneFile(StrictModel):
    """The whole ``milestones.yaml``."""

    version: int = Field(ge=1)
    milestones: dict[str, MilestoneRule]

    @field_validator("milestones")
    @classmethod
    def _known(cls, value: dict[str, MilestoneRule]) -> dict[str, MilestoneRule]:
        unknown = set(value) - set(MILESTONES)
        if unknown:
            raise ValueError(f"unknown milestones {sorted(unknown)}; valid: {', '.join(MILESTONES)}")
        return value


class Milestones:
    """Compiled milestone rules.

    Example:
        >>> from app.catalog import Catalog
        >>> Catalog.default().milestones.found("Recommended next steps: call them today.", "cj")
        {'recommended_action'}
    """

    def __init__(self, parsed: MilestoneFile) -> None:
        self._rules = [
            (name, rule.speaker, [re.compile(p, re.IGNORECASE) for p in rule.patterns])
            for name, rule in parsed.milestones.items()
        ]

    @classmethod
    def load(cls, path: Path) -> Milestones:
        """Read and validate ``path`` (a ``milestones.yaml``)."""
        return cls(load_model(path, MilestoneFile))

    def names(self) -> list[str]:
        """Milestones that have a rule."""
        return [name for name, _, _ in self._rules]

    def found(self, text: str, speaker: str, replying_to: bool = True) -> set[str]:
        """Milestones a message by ``speaker`` achieves (``answered`` only when replying to the merchant)."""
        out = set()
        for name, who, patterns in self._rules:
            if who != speaker or (name == "answered" and not replying_to):
                continue
            if any(p.search(text) for p in patterns):
                out.add(name)
        return out


def milestones_in(text: str, speaker: str, replying_to: bool = True) -> set[str]:
    """Milestones a message achieves, by the default catalog's rules (see :meth:`Milestones.found`)."""
    from app.catalog import Catalog  # the catalog imports this module

    return Catalog.default().milestones.found(text, speaker, replying_to)
