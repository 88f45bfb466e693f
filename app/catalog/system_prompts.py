"""Versioned system prompts (``prompts/<name>_v<version>.md``) and the placeholders each may use.

A prompt the code fills is declared here once (:data:`CJ_SYSTEM`, :data:`MERCHANT_SYSTEM`):
its name, the version the code uses and the placeholders it provides. Loading checks every
version of a declared prompt against those placeholders, so a typo in ``{merchant_nmae}``
fails when the data folder is loaded, not in the middle of a conversation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.datafiles import read_text
from app.errors import DataFileError
from app.models import format_fields

__all__ = ["PromptSpec", "CJ_SYSTEM", "MERCHANT_SYSTEM", "PROMPT_SPECS", "SystemPrompts"]

_FILE = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)_v(?P<version>[1-9][0-9]*)\.md$")


@dataclass(frozen=True)
class PromptSpec:
    """A system prompt the code fills: file name stem, version in use, placeholders provided."""

    name: str
    version: int
    fields: tuple[str, ...]

    @property
    def file_name(self) -> str:
        return f"{self.name}_v{self.version}.md"


CJ_SYSTEM = PromptSpec(
    "cj_system",
    2,  # version 2: checks data quality and caveats answers from flagged data
    (
        "business_name", "merchant_name", "communication_style", "business_stage", "stress_level",
        "tone_guidance", "workflow_name", "workflow_description", "workflow_prompt", "stages",
    ),
)  # fmt: skip
"""An LLM-backed CJ's system prompt (filled by :func:`app.agents.cj_agent.cj_system_prompt`)."""

MERCHANT_SYSTEM = PromptSpec(
    "merchant_system",
    1,
    (
        "merchant_name", "business_name", "business_type", "style_guidance", "scenario_description",
        "known_facts", "goals", "done_marker",
    ),
)  # fmt: skip
"""An LLM-backed merchant's system prompt (filled by :func:`app.agents.merchant_agent.merchant_system_prompt`)."""

PROMPT_SPECS: dict[str, PromptSpec] = {s.name: s for s in (CJ_SYSTEM, MERCHANT_SYSTEM)}


class SystemPrompts:
    """The ``*_v<N>.md`` files of a prompts folder, checked and kept as text.

    Example:
        >>> from app.catalog import Catalog
        >>> "{merchant_name}" in Catalog.default().prompts.system.text("merchant_system", 1)
        True
    """

    def __init__(self, folder: Path, texts: Mapping[tuple[str, int], str]) -> None:
        self.folder = folder
        self._texts = dict(texts)

    @classmethod
    def load(cls, folder: Path) -> SystemPrompts:
        """Read every ``<name>_v<version>.md`` of ``folder``; each declared prompt's version in use must exist."""
        texts: dict[tuple[str, int], str] = {}
        for path in sorted(folder.glob("*.md")):
            m = _FILE.match(path.name)
            if m is None:
                continue  # README.md and other notes
            text = read_text(path)
            spec = PROMPT_SPECS.get(m["name"])
            try:
                used = format_fields(text)
            except ValueError as exc:
                raise DataFileError(f"{path}: {exc}") from None
            allowed = spec.fields if spec is not None else ()
            unknown = sorted({f for f in used if f not in allowed})
            if unknown:
                valid = ", ".join(f"{{{f}}}" for f in allowed) or "none (this prompt is not filled by the code)"
                raise DataFileError(
                    f"{path}: unknown placeholder(s) {', '.join(f'{{{u}}}' for u in unknown)}; "
                    f"valid placeholders: {valid}; write {{{{ and }}}} for literal braces"
                )
            texts[(m["name"], int(m["version"]))] = text
        for spec in PROMPT_SPECS.values():
            if (spec.name, spec.version) not in texts:
                raise DataFileError(f"{folder / spec.file_name}: prompt file not found; add it (see data/prompts/)")
        return cls(folder, texts)

    def text(self, name: str, version: int = 1) -> str:
        """The raw text of ``<name>_v<version>.md``."""
        try:
            return self._texts[(name, version)]
        except KeyError:
            raise DataFileError(f"{self.folder / f'{name}_v{version}.md'}: prompt file not found; add it") from None

    def render(self, spec: PromptSpec, version: int | None = None, **values: str) -> str:
        """Fill a declared prompt (its version in use unless ``version`` is given) with ``values``."""
        missing = [f for f in spec.fields if f not in values]
        if missing:
            raise TypeError(f"render({spec.name}) needs values for {missing}")
        return self.text(spec.name, spec.version if version is None else version).format(**values).strip() + "\n"
