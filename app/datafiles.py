"""Loading YAML data files into strict pydantic models, with errors that name file and field."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from app.errors import DataFileError

__all__ = ["data_dir", "load_yaml", "load_model", "load_data_file", "format_validation_error"]

M = TypeVar("M", bound=BaseModel)

_REPO_DATA = Path(__file__).resolve().parent.parent / "data"


def data_dir() -> Path:
    """The data folder: ``$CJSIM_DATA_DIR`` if set, else ``data/`` of this checkout."""
    override = os.environ.get("CJSIM_DATA_DIR")
    return Path(override) if override else _REPO_DATA


def load_yaml(path: Path) -> object:
    """Parse a YAML file, turning I/O and syntax problems into :class:`DataFileError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise DataFileError(
            f"{path}:{line}: not valid UTF-8 (byte 0x{exc.object[exc.start]:02x}); save the file as UTF-8"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise DataFileError(f"{path}: malformed YAML{where}: {problem}; fix the syntax") from None


def format_validation_error(source: str, exc: ValidationError) -> str:
    """One message listing each invalid field as ``source: field 'a.b': problem``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field; remove it or check its spelling"
        elif err["type"] == "missing":
            msg = "required field is missing; add it"
        lines.append(f"{source}: field '{loc}': {msg}")
    return "\n".join(lines)


def load_model(path: Path, model: type[M]) -> M:
    """Load ``path`` and validate it as ``model``; errors name the file and the field path."""
    raw = load_yaml(path)
    if not isinstance(raw, dict):
        raise DataFileError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise DataFileError(format_validation_error(str(path), exc)) from None


@cache
def _cached_model(path: Path, model: type[BaseModel]) -> BaseModel:
    return load_model(path, model)


def load_data_file(relative: str, model: type[M]) -> M:
    """``relative`` in the current data folder, validated as ``model``; cached per path, so a
    changed ``$CJSIM_DATA_DIR`` is read afresh."""
    return _cached_model(data_dir() / relative, model)  # type: ignore[return-value]
