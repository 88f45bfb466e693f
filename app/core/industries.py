"""Industry extensions: a JSON Schema per industry for entity attributes, plus its outcome types.

Each ``data/industries/<name>.schema.json`` is a JSON Schema (draft 2020-12) of
``core_entities.attributes`` for that industry; its ``x-outcome-types`` lists the outcome types an
entity of the industry may have, and ``examples`` holds attributes it must accept. Attributes are
validated on every write; an unknown industry is refused with the list of known ones.

Example:
    >>> retail = get_industry("retail")
    >>> "purchase" in retail.outcome_types
    True
    >>> retail.attribute_problems({"loyalty_tier": "gold"})
    []
    >>> retail.attribute_problems({"return_rate": "high"})
    ["return_rate: 'high' is not of type 'number'"]
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]

from app.datafiles import data_dir, read_text
from app.errors import DataFileError, InvalidArgumentError, UnknownNameError

__all__ = ["Industry", "industries", "get_industry", "industry_names"]

_SUFFIX = ".schema.json"


@dataclass(frozen=True)
class Industry:
    """One industry extension: its name, attribute schema and outcome types."""

    name: str
    title: str
    schema: dict[str, Any]
    outcome_types: tuple[str, ...]
    path: Path
    _validator: Draft202012Validator = field(repr=False, compare=False)

    def attribute_problems(self, attributes: dict[str, Any] | None) -> list[str]:
        """What is wrong with ``attributes`` for this industry (empty: valid), one line per problem."""
        out = []
        for error in sorted(self._validator.iter_errors(attributes or {}), key=lambda e: list(e.absolute_path)):
            where = ".".join(str(p) for p in error.absolute_path)
            out.append(f"{where}: {error.message}" if where else error.message)
        return out

    def check_attributes(self, attributes: dict[str, Any] | None) -> None:
        """Raise :class:`InvalidArgumentError` naming every problem of ``attributes``."""
        problems = self.attribute_problems(attributes)
        if problems:
            raise InvalidArgumentError(f"attributes do not follow the {self.name} schema: " + "; ".join(problems))

    def check_outcome_type(self, outcome_type: str) -> None:
        """Raise :class:`InvalidArgumentError` unless ``outcome_type`` is one of the industry's."""
        if outcome_type not in self.outcome_types:
            raise InvalidArgumentError(
                f"outcome type {outcome_type!r} is not a {self.name} outcome; known: {', '.join(self.outcome_types)}"
            )


def _load(path: Path) -> Industry:
    name = path.name.removesuffix(_SUFFIX)
    try:
        schema = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(schema, dict):
        raise DataFileError(f"{path}: a JSON Schema must be an object")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise DataFileError(f"{path}: not a valid JSON Schema: {exc.message}") from None
    outcomes = schema.get("x-outcome-types")
    if not isinstance(outcomes, list) or not outcomes or not all(isinstance(o, str) for o in outcomes):
        raise DataFileError(f"{path}: x-outcome-types must be a non-empty list of outcome type names")
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    industry = Industry(name, str(schema.get("title", name)), schema, tuple(outcomes), path, validator)
    for i, example in enumerate(schema.get("examples", [])):
        problems = industry.attribute_problems(example)
        if problems:
            raise DataFileError(f"{path}: examples[{i}] does not follow the schema: {'; '.join(problems)}")
    return industry


@cache
def _registry(folder: Path) -> dict[str, Industry]:
    if not folder.is_dir():
        raise DataFileError(f"{folder}: no industries folder; it holds one <industry>{_SUFFIX} per industry")
    return {i.name: i for i in (_load(p) for p in sorted(folder.glob(f"*{_SUFFIX}")))}


def industries() -> dict[str, Industry]:
    """Every industry of the data folder (``data/industries/``), by name."""
    return _registry(data_dir() / "industries")


def industry_names() -> list[str]:
    """The known industry names, sorted."""
    return sorted(industries())


def get_industry(name: str) -> Industry:
    """The industry called ``name``; an unknown one raises :class:`UnknownNameError` listing the valid ones."""
    known = industries()
    if name not in known:
        error = UnknownNameError("industry", name, known)
        error.args = (f"unknown industry {name!r}; known industries: {', '.join(sorted(known))}",)  # not "industrys"
        raise error
    return known[name]
