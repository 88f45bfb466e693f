"""Recognising what a merchant asks for, from patterns kept in ``data/intents.yaml``.

Used by the conversation graph (transition triggers, ``--workflow auto``), by the rule-based
CJ (which tool to call with which arguments) and by the evaluators (which tools answer a
question). Keeping the patterns in data lets users teach CJ new phrasings without touching code.
The :class:`IntentCatalog` lives in the :class:`~app.catalog.Catalog`, which also checks each
intent's workflow and tool arguments.

The same file says which tool calls may stand in for a tool (``fallbacks``): when a tool fails
for good or the workflow does not bind it, the first bound fallback answers the same question.
The rule-based CJ calls them and the evaluators accept them, from this one declaration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from app.datafiles import load_model
from app.errors import DataFileError, UnknownNameError
from app.models import RegexPattern, StrictModel
from app.views import tool_names

__all__ = ["Intent", "FallbackCall", "IntentFile", "IntentMatch", "IntentCatalog", "intents"]


class Intent(StrictModel):
    """One thing a merchant can ask for."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    patterns: list[RegexPattern] = Field(min_length=1, description="Case-insensitive regular expressions.")
    workflow: str | None = Field(default=None, description="Workflow this intent suggests (--workflow auto).")
    tool: str | None = Field(default=None, description="Tool that answers it.")
    args: dict[str, Any] = Field(default_factory=dict, description="Tool arguments.")
    extract: str | None = Field(
        default=None, description="Tool argument filled from the pattern's last group (customer_id, query); "
        "a named group (?P<arg>...) fills the argument it names (words joined by _: 'somewhat accurate' -> somewhat_accurate)."
    )

    @model_validator(mode="after")
    def _valid(self) -> Intent:
        valid = tool_names()
        if self.tool is not None and self.tool not in valid:
            raise ValueError(f"unknown tool {self.tool!r}; valid tools: {', '.join(valid)}")
        return self


class FallbackCall(StrictModel):
    """A call that answers the same questions as another tool; string args may copy ``{arg}`` of the original call."""

    tool: str = Field(description="The tool to call instead.")
    args: dict[str, Any] = Field(default_factory=dict, description="Its arguments; '{segment}' copies the original's.")


class IntentFile(StrictModel):
    """The whole ``intents.yaml``."""

    version: int = Field(ge=1)
    intents: list[Intent] = Field(min_length=1)
    fallbacks: dict[str, list[FallbackCall]] = Field(
        default_factory=dict,
        description="Per tool: calls that answer its questions when it fails for good or is not bound (first bound one).",
    )

    @model_validator(mode="after")
    def _fallback_tools_known(self) -> IntentFile:
        named = [*self.fallbacks, *(f.tool for fs in self.fallbacks.values() for f in fs)]
        valid = tool_names()
        unknown = sorted({t for t in named if t not in valid})
        if unknown:
            raise ValueError(f"unknown tools {unknown} in fallbacks; valid tools: {', '.join(valid)}")
        return self


def _group_value(text: str) -> int | str:
    """A named group's match as an argument value: a number, or words as a name (lower case, joined
    by underscores), so "Somewhat accurate" fills ``somewhat_accurate``."""
    return int(text) if text.isdigit() else "_".join(text.lower().split())


@dataclass(frozen=True)
class IntentMatch:
    """An intent found in a message, with tool arguments (including extracted ones)."""

    intent: Intent
    args: dict[str, Any]


class IntentCatalog:
    """Intents in priority order, with compiled patterns, and the fallbacks of each tool."""

    def __init__(self, items: list[Intent], fallbacks: Mapping[str, list[FallbackCall]] | None = None) -> None:
        self.items = items
        self.fallbacks: dict[str, list[FallbackCall]] = dict(fallbacks or {})
        self._fallback_tools = {tool: tuple(f.tool for f in calls) for tool, calls in self.fallbacks.items()}
        self._compiled = [(i, [re.compile(p, re.IGNORECASE) for p in i.patterns]) for i in items]

    @classmethod
    def load(cls, path: Path) -> IntentCatalog:
        """Read and validate ``path`` (an ``intents.yaml``)."""
        parsed = load_model(path, IntentFile)
        ids = [i.id for i in parsed.intents]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise DataFileError(
                f"{path}: field 'intents': ids {twice} are used more than once; give each intent its own id"
            )
        return cls(parsed.intents, parsed.fallbacks)

    def ids(self) -> list[str]:
        """Intent ids in priority order."""
        return [i.id for i in self.items]

    def __contains__(self, intent_id: object) -> bool:
        return any(i.id == intent_id for i in self.items)

    def get(self, intent_id: str) -> Intent:
        for i in self.items:
            if i.id == intent_id:
                return i
        raise UnknownNameError("intent", intent_id, [i.id for i in self.items])

    def fallback_tools(self, tool: str) -> tuple[str, ...]:
        """The tools that may stand in for ``tool``, in order of preference (empty when none)."""
        return self._fallback_tools.get(tool, ())

    def detect(self, text: str) -> list[IntentMatch]:
        """Every intent whose patterns match ``text``, in priority order."""
        found = []
        for intent, patterns in self._compiled:
            for pattern in patterns:
                m = pattern.search(text)
                if m:
                    args = dict(intent.args)
                    # a named group fills the argument it names ("priority (?P<priority_rating>[1-5])");
                    # words become the value's name ("somewhat accurate" -> somewhat_accurate)
                    args.update({k: _group_value(v) for k, v in m.groupdict().items() if v})
                    if intent.extract:
                        groups = [g for g in m.groups() if g]
                        if not groups:
                            continue
                        args[intent.extract] = groups[-1]
                    found.append(IntentMatch(intent, args))
                    break
        return found


def intents() -> IntentCatalog:
    """The intents of the default catalog."""
    from app.catalog import Catalog  # the catalog imports this module

    return Catalog.default().intents
