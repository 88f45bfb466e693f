"""Versioned prompt files in ``data/prompts/`` and their rendering."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from app.datafiles import data_dir
from app.errors import DataFileError

__all__ = ["load_prompt", "render_prompt"]


@cache
def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read prompt file ({exc.strerror}); check data/prompts/") from None


def load_prompt(name: str, version: int = 1) -> str:
    """The text of ``data/prompts/<name>_v<version>.md``."""
    return _read(data_dir() / "prompts" / f"{name}_v{version}.md")


def render_prompt(name: str, version: int = 1, **values: str) -> str:
    """Fill a prompt's ``{placeholders}``; a missing value names the placeholder."""
    text = load_prompt(name, version)
    try:
        return text.format(**values).strip() + "\n"
    except KeyError as exc:
        raise DataFileError(f"data/prompts/{name}_v{version}.md: unknown placeholder {exc}") from None
