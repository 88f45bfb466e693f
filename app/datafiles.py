"""Reading data files: UTF-8 text, YAML without duplicated keys, strict pydantic models.

Every problem becomes a :class:`~app.errors.DataFileError` naming the file, the field path
and the fix: an unreadable or non-UTF-8 file, malformed YAML, a key written twice in one
mapping (YAML would silently keep the last one), a missing or unknown field, a bad value.
The files of a data folder are read through :class:`app.catalog.Catalog`, once.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar, cast

import yaml
from pydantic import BaseModel, ValidationError

from app.errors import DataFileError

__all__ = ["data_dir", "read_text", "UniqueKeyLoader", "load_yaml", "load_model", "load_model_once",
           "format_validation_error"]

M = TypeVar("M", bound=BaseModel)

_REPO_DATA = Path(__file__).resolve().parent.parent / "data"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def data_dir() -> Path:
    """The data folder: ``$CJSIM_DATA_DIR`` if set, else ``data/`` of this checkout."""
    override = os.environ.get("CJSIM_DATA_DIR")
    return Path(override) if override else _REPO_DATA


def read_text(path: Path) -> str:
    """The text of ``path``, which must be UTF-8 (a byte-order mark is allowed)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataFileError(
            f"{path}:{line}: not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        ) from None


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, where: str, key: str, line: int, first: int) -> None:
        super().__init__(where, key, line, first)
        self.where, self.key, self.line, self.first = where, key, line, first


# libyaml's parser when PyYAML was built with it (about 5x faster); same documents either way
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UniqueKeyLoader(_SafeLoader):
    """PyYAML's safe loader, rejecting a key written twice in one mapping."""

    def construct_document(self, node: yaml.Node) -> Any:
        _check_unique(node, ())
        return super().construct_document(node)


def _check_unique(node: yaml.Node, path: tuple[str, ...], seen: set[int] | None = None) -> None:
    seen = set() if seen is None else seen
    if id(node) in seen:  # anchors and aliases may share (or nest) nodes
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, str], int] = {}
        for key, value in node.value:
            if key.tag == _MERGE_TAG:
                continue
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else "(complex key)"
            line = key.start_mark.line + 1
            if (key.tag, name) in first:  # the tag tells `1` from `"1"`
                raise _DuplicateKey(".".join(path), name, line, first[(key.tag, name)])
            first[(key.tag, name)] = line
            _check_unique(value, (*path, name), seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_unique(item, (*path, str(i)), seen)


def load_yaml(path: Path, loader: type[UniqueKeyLoader] = UniqueKeyLoader) -> object:
    """Parse a YAML file, turning I/O, encoding, syntax and duplicated-key problems into :class:`DataFileError`."""
    text = read_text(path)
    try:
        return yaml.load(text, Loader=loader)
    except _DuplicateKey as dup:
        field = f"{dup.where}.{dup.key}" if dup.where else dup.key
        lines = f"lines {dup.first} and {dup.line}" if dup.first != dup.line else f"twice on line {dup.line}"
        raise DataFileError(f"{path}: field '{field}': key written twice ({lines}); keep one of them") from None
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


def load_model(path: Path, model: type[M], loader: type[UniqueKeyLoader] = UniqueKeyLoader) -> M:
    """Load ``path`` (with ``loader``) and validate it as ``model``; errors name the file and the field path."""
    raw = load_yaml(path, loader)
    if not isinstance(raw, dict):
        raise DataFileError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise DataFileError(format_validation_error(str(path), exc)) from None


def load_model_once(path: Path, model: type[M]) -> M:
    """:func:`load_model`, remembered per file and model: a settings file is read once per process."""
    return cast(M, _remembered(path, model))


@lru_cache(maxsize=32)
def _remembered(path: Path, model: type[BaseModel]) -> BaseModel:
    return load_model(path, model)
