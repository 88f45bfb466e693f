"""The import mapping file: how a merchant's CSV exports become rows of the cjsim schema.

A mapping names, for every schema column it fills, the source column(s) of the CSV (renames),
how to read the value (date formats, money to cents, value maps, defaults) and a few derived
fields. It is YAML validated by strict pydantic models (unknown keys are errors); the JSON
Schema is published as ``docs/schemas/import_mapping.schema.json``. Version 2 (expressions,
filters, group_by) is :mod:`app.storage.mapping_v2`; :func:`load_mapping` reads either.

Example (``examples/production/mapping.yaml`` is a complete one)::

    version: 1
    merchant: {merchant_id: smokehouse, name: Marcus Thompson, business_name: Smokehouse Supply Co.,
               business_type: BBQ subscription boxes}
    defaults: {date_formats: ["%m/%d/%Y"]}
    orders:
      columns:
        order_id: Order Number                      # a plain string renames a column
        customer_id: Customer ID
        ordered_on: {source: Created At, format: "%m/%d/%Y %I:%M %p"}
        amount_cents: {source: Total}               # "$1,234.50" -> 123450
        status: {source: Financial Status, map: {paid: paid, voided: failed, refunded: refunded}}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.datafiles import UniqueKeyLoader, load_model, load_yaml
from app.errors import DataFileError
from app.storage.codes import CURRENCIES

if TYPE_CHECKING:
    from app.storage.mapping_v2 import ImportMappingV2

__all__ = [
    "ColumnMap",
    "TableMap",
    "MerchantInfo",
    "ParseDefaults",
    "DeriveOptions",
    "ImportMapping",
    "IMPORT_TABLES",
    "FILE_OPTIONS",
    "SIGNAL_STRENGTH",
    "load_mapping",
    "MappingLoader",
]

IMPORT_TABLES = ("customers", "subscriptions", "orders", "support_tickets")
"""Schema tables a version-1 import can fill from CSV files, in dependency order."""

FILE_OPTIONS = {"customers": "--customers", "subscriptions": "--subscriptions", "orders": "--orders",
                "support_tickets": "--tickets", "refunds": "--refunds"}
"""The ``cjsim db import`` option naming each file (files are keyed by table name)."""

SIGNAL_STRENGTH = {"failed_payment": 0.8, "negative_ticket": 0.7}
"""Strength of derived churn signals (the middle of the generator's ranges)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Scalar = str | int | float


class ColumnMap(_Strict):
    """How one schema column is filled: from CSV column(s) or a constant, then converted.

    The conversion follows the schema column's type: dates and timestamps are parsed with
    ``format`` (or the file defaults), ``*_cents`` columns parse money ("$1,234.50", "(12.00)")
    into integer cents, integer columns into integers, text is trimmed.
    """

    source: str | list[str] | None = Field(
        default=None, description="CSV column name, or several joined with `join` (e.g. first and last name)."
    )
    constant: Scalar | None = Field(default=None, description="A fixed value for every row instead of a column.")
    join: str = Field(default=" ", description="Separator when `source` lists several columns (empty parts skipped).")
    format: str | list[str] | None = Field(
        default=None, description="strptime format(s) for date/timestamp columns, tried in order (overrides defaults)."
    )
    map: dict[str, Scalar] | None = Field(
        default=None,
        description="Source value -> schema value, matched after trimming and ignoring case; unmapped values are errors.",
    )
    default: Scalar | None = Field(default=None, description="Value used when the source cell is empty.")
    divide_by: str | None = Field(
        default=None,
        description="CSV column to divide the number by, rounded to the cent (e.g. a 3-month price to a monthly one).",
    )
    case: Literal["lower", "upper", "title"] | None = Field(default=None, description="Change the text's case.")

    @model_validator(mode="after")
    def _one_origin(self) -> ColumnMap:
        if (self.source is None) == (self.constant is None):
            raise ValueError("give exactly one of `source` (CSV column) or `constant`")
        if isinstance(self.source, list) and not self.source:
            raise ValueError("`source` lists no columns")
        return self

    def source_columns(self) -> list[str]:
        """CSV columns this mapping reads (including `divide_by`)."""
        cols = [] if self.source is None else ([self.source] if isinstance(self.source, str) else list(self.source))
        return cols + ([self.divide_by] if self.divide_by else [])


class TableMap(_Strict):
    """Schema column -> how to fill it, for one CSV file."""

    columns: dict[str, str | ColumnMap] = Field(
        description="Schema column name -> CSV column name (a rename) or a full column mapping."
    )

    def column_maps(self) -> dict[str, ColumnMap]:
        """Every entry as a :class:`ColumnMap` (plain strings are renames)."""
        return {k: ColumnMap(source=v) if isinstance(v, str) else v for k, v in self.columns.items()}


class MerchantInfo(_Strict):
    """The merchant the imported data belongs to (one merchant per database)."""

    merchant_id: str = Field(min_length=1, max_length=32, description="Short id, e.g. smokehouse.")
    name: str = Field(min_length=1, max_length=200, description="The merchant's name.")
    business_name: str = Field(min_length=1, max_length=200, description="Shown in briefings and reports.")
    business_type: str = Field(default="subscription e-commerce", max_length=200, description="What they sell.")
    currency: str = Field(
        default="USD", description="ISO 4217 code of every amount in the exports (merchants.currency), e.g. GBP."
    )

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        code = value.strip().upper()
        if code not in CURRENCIES:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. USD, EUR, GBP)")
        return code


class ParseDefaults(_Strict):
    """How cells are read unless a column says otherwise."""

    date_formats: list[str] = Field(
        default_factory=lambda: ["%Y-%m-%d"], min_length=1, description="strptime formats for dates, tried in order."
    )
    datetime_formats: list[str] = Field(
        default_factory=lambda: ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        min_length=1,
        description="strptime formats for timestamps, tried in order (then the date formats, at midnight).",
    )
    decimal_separator: Literal[".", ","] = Field(
        default=".", description="Decimal separator of money and numbers; the other one is a thousands separator."
    )
    delimiter: str = Field(default=",", min_length=1, max_length=1, description="CSV field delimiter.")
    encoding: str = Field(default="utf-8-sig", description="File encoding (utf-8-sig also accepts a byte-order mark).")


class DeriveOptions(_Strict):
    """Rows and fields derived from the imported data."""

    customers: bool = Field(
        default=True,
        description="Create customers referenced by other files but absent from the customers file (or all of "
        "them when there is no customers file): id as name, first activity as created_on.",
    )
    signals: bool = Field(
        default=True,
        description="Derive churn signals: failed_payment from failed orders, negative_ticket from negative tickets.",
    )


class ImportMapping(_Strict):
    """A mapping file: the merchant, parse defaults, derivations and one mapping per CSV file."""

    version: Literal[1] = Field(default=1, description="Mapping format version.")
    merchant: MerchantInfo
    defaults: ParseDefaults = Field(default_factory=ParseDefaults)
    derive: DeriveOptions = Field(default_factory=DeriveOptions)
    customers: TableMap | None = Field(default=None, description="Mapping of the --customers file.")
    subscriptions: TableMap | None = Field(default=None, description="Mapping of the --subscriptions file.")
    orders: TableMap | None = Field(default=None, description="Mapping of the --orders file.")
    support_tickets: TableMap | None = Field(default=None, description="Mapping of the --tickets file.")

    def table(self, name: str) -> TableMap | None:
        return getattr(self, name)


class MappingLoader(UniqueKeyLoader):
    """YAML with YAML 1.2 booleans: only ``true``/``false`` are booleans, so ``NO`` (Norway),
    ``yes``, ``on`` and ``off`` stay text, as a value map of countries or statuses needs."""


MappingLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in UniqueKeyLoader.yaml_implicit_resolvers.items()
}
MappingLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_mapping(path: Path) -> ImportMapping | ImportMappingV2:
    """Load and validate a mapping file (version 1 or 2); errors name the file and the field."""
    from app.storage.mapping_v2 import ImportMappingV2

    raw = load_yaml(path, MappingLoader)
    version = raw.get("version", 1) if isinstance(raw, dict) else 1
    if version not in (1, 2):
        raise DataFileError(f"{path}: field 'version': {version!r} is not a mapping format version; use 1 or 2")
    if version == 2:
        return load_model(path, ImportMappingV2, MappingLoader)
    return load_model(path, ImportMapping, MappingLoader)
