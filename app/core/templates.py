"""Mapping templates: how one source file becomes universal-core entities and outcomes (seed 001's form).

A template is YAML in ``data/templates/<name>.yaml`` (format: ``data/templates/README.md``),
validated by :class:`CoreTemplate` (strict: unknown keys are errors):

* ``source_fields`` - source column -> core column (a rename);
* ``computed_fields`` - core column -> an expression of the version-2 mapping language
  (:mod:`app.storage.expressions`), whose ``if(cond, a, cond2, b, else)`` is the CASE form;
* ``json_mappings`` - ``demographics``/``preferences``/``attributes`` -> a list of source columns
  (kept under their own names) or key -> expression;
* ``outcomes`` - outcome rules: a type, a condition, a time and a value;
* ``required`` and ``allowed`` - source columns that must have a value, and their allowed values.

Example:
    >>> t = get_template("telecom")
    >>> (t.industry, t.source_fields["customerID"])
    ('telecom', 'external_id')
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.datafiles import data_dir, load_model
from app.errors import DataFileError, UnknownNameError
from app.storage.mapping import ParseDefaults

__all__ = ["CORE_COLUMNS", "JSON_COLUMNS", "OutcomeRule", "CoreTemplate", "templates", "get_template", "load_template"]

CORE_COLUMNS: dict[str, str] = {
    "entity_type": "text",
    "external_id": "text",
    "segment_id": "text",
    "cohort_id": "text",
    "lifecycle_stage": "text",
    "tenure_days": "integer",
    "first_interaction_date": "date",
    "last_interaction_date": "date",
    "lifetime_value_cents": "cents",
    "currency": "text",
    "current_value_score": "number",
    "risk_score": "number",
    "engagement_score": "number",
    "responsiveness_score": "number",
    "is_active": "boolean",
    "data_quality_score": "number",
}
"""Core entity columns a template can fill, and the kind of value each takes (``cents``: major units, stored in minor)."""

JSON_COLUMNS = ("demographics", "preferences", "attributes")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OutcomeRule(_Strict):
    """An outcome written for each record where ``when`` holds."""

    type: str = Field(description="An outcome type of the template's industry, e.g. churn.")
    when: str | None = Field(default=None, description="Condition over the record (default: every record).")
    at: str | None = Field(default=None, description="Date or timestamp expression (default: the import's as-of day).")
    value: str | None = Field(default=None, description="Amount in major units (stored in minor units).")


class CoreTemplate(_Strict):
    """A mapping template from one source file to the universal core."""

    version: Literal[1] = Field(description="Template format version (1).")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="The template's name (its file name).")
    industry: str = Field(description="The industry extension the attributes follow.")
    description: str = Field(min_length=1)
    source_system: str = Field(min_length=1, max_length=100, description="Names the source in core_lineage.")
    source_table: str = Field(min_length=1, max_length=100, description="The source table or file in core_lineage.")
    record_id: str = Field(description="Expression of the record's id in the source (lineage; unique in a file).")
    defaults: ParseDefaults = Field(default_factory=ParseDefaults)
    required: list[str] = Field(default_factory=list, description="Source columns that must have a value.")
    allowed: dict[str, list[str]] = Field(default_factory=dict, description="Source column -> its allowed values.")
    source_fields: dict[str, str] = Field(default_factory=dict, description="Source column -> core column.")
    computed_fields: dict[str, str] = Field(default_factory=dict, description="Core column -> expression.")
    json_mappings: dict[Literal["demographics", "preferences", "attributes"], list[str] | dict[str, str]] = Field(
        default_factory=dict, description="JSON column -> source columns (same keys) or key -> expression."
    )
    outcomes: list[OutcomeRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _columns(self) -> CoreTemplate:
        targets = list(self.source_fields.values()) + list(self.computed_fields)
        for col in targets:
            if col not in CORE_COLUMNS:
                raise ValueError(f"{col!r} is not a core column a template fills; columns: {', '.join(CORE_COLUMNS)}")
        twice = sorted({c for c in targets if targets.count(c) > 1})
        if twice:
            raise ValueError(f"core column(s) {', '.join(twice)} filled more than once")
        for col in ("entity_type", "external_id"):
            if col not in targets:
                raise ValueError(f"{col} must be filled (by source_fields or computed_fields)")
        return self

    def field_expressions(self) -> dict[str, str]:
        """Core column -> expression (renames as bracketed column names)."""
        renames = {core: "[" + source + "]" for source, core in self.source_fields.items()}
        return renames | dict(self.computed_fields)

    def json_expressions(self) -> dict[str, dict[str, str]]:
        """JSON column -> key -> expression."""
        return {
            col: {k: "[" + k + "]" for k in spec} if isinstance(spec, list) else dict(spec)
            for col, spec in self.json_mappings.items()
        }


def load_template(path: Path) -> CoreTemplate:
    """Read and validate a template file; mistakes raise :class:`DataFileError` naming the field."""
    template = load_model(path, CoreTemplate)
    if template.name != path.stem:
        raise DataFileError(f"{path}: name {template.name!r} differs from the file name {path.stem!r}")
    return template


@cache
def _registry(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))} if folder.is_dir() else {}


def templates() -> dict[str, Path]:
    """The shipped templates (``data/templates/*.yaml``) by name."""
    return _registry(data_dir() / "templates")


def get_template(name: str) -> CoreTemplate:
    """A shipped template by name, or a template file's path; unknown names list the known ones."""
    known = templates()
    if name in known:
        return load_template(known[name])
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return load_template(path)
    raise UnknownNameError("template", name, known, hint="or give the path of a template file (.yaml)")
