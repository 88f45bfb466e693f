"""Mapping format version 2: expressions, filters, group_by, value maps checked against the schema.

A version-2 mapping reads exports as they come (invoice lines, say) and says how they become
rows: each section names the file it reads (``source``), keeps the rows a ``filter`` accepts,
optionally groups them (``group_by``) and fills each schema column from an expression or an
aggregate (``sum``, ``first``, ``min``, ``max``, ``count``) of one. Expressions are the small
language of :mod:`app.storage.expressions`, compiled to DuckDB SQL, never evaluated as code.
The format is documented in docs/import_mapping_v2.md; ``examples/online_retail/mapping.yaml``
is a complete example.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from app.storage.codes import COUNTRIES, UNKNOWN_COUNTRY
from app.storage.csv_reader import ALLOWED_VALUES
from app.storage.mapping import DeriveOptions, MerchantInfo, ParseDefaults, Scalar, _Strict
from app.storage.schema import metadata

__all__ = ["AGGREGATES", "ColumnV2", "SectionV2", "ImportMappingV2", "V2_TABLES", "value_domain"]

AGGREGATES = ("sum", "first", "min", "max", "count")
"""Aggregates of a grouped section's columns (``first`` follows the file's line order)."""

V2_TABLES = ("customers", "subscriptions", "orders", "refunds", "support_tickets")
"""Tables a version-2 mapping fills, in dependency order (orders may name a subscription)."""

FileName = Literal["customers", "orders", "refunds", "subscriptions", "support_tickets"]


def value_domain(table: str, column: str) -> tuple[frozenset[str], str] | None:
    """The allowed values of a schema column that has a fixed domain, and the domain's name."""
    if column == "country":
        return COUNTRIES | {UNKNOWN_COUNTRY}, "an ISO 3166 country code (or '' for unknown)"
    if (table, column) in ALLOWED_VALUES:
        allowed = ALLOWED_VALUES[(table, column)]
        return frozenset(allowed), "one of " + ", ".join(allowed)
    return None


class ColumnV2(_Strict):
    """How one schema column is filled: an expression (``expr``), an aggregate of one, or a constant.

    In a section with ``group_by``, ``expr`` must be one of the group expressions; other columns
    aggregate. ``map`` translates the result (matched ignoring case and surrounding spaces);
    the result is checked against the column's domain (countries, order statuses).
    """

    expr: str | None = Field(default=None, description="An expression over the file's columns, e.g. `Quantity * UnitPrice`.")
    sum: str | None = Field(default=None, description="Sum of an expression over the group.")
    first: str | None = Field(default=None, description="The expression's value on the group's first line (non-empty).")
    min: str | None = Field(default=None, description="Smallest value of the expression in the group.")
    max: str | None = Field(default=None, description="Largest value of the expression in the group.")
    count: str | None = Field(default=None, description="Number of lines in the group where the expression is not empty; `*` for all.")
    constant: Scalar | None = Field(default=None, description="A fixed value for every row.")
    map: dict[str, Scalar] | None = Field(
        default=None, description="Value -> schema value (e.g. United Kingdom: GB); other values pass through and are checked."
    )
    default: Scalar | None = Field(default=None, description="Value when the result is empty.")

    @model_validator(mode="after")
    def _one_origin(self) -> ColumnV2:
        given = [k for k in ("expr", *AGGREGATES, "constant") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of expr, sum, first, min, max, count or constant")
        return self

    @property
    def origin(self) -> tuple[str, str | Scalar]:
        """(kind, text): kind is expr, an aggregate name, or constant."""
        for kind in ("expr", *AGGREGATES, "constant"):
            value = getattr(self, kind)
            if value is not None:
                return kind, value
        raise AssertionError("validated to have one origin")  # pragma: no cover


class SectionV2(_Strict):
    """One target table: which file, which rows, how grouped, and each column."""

    source: FileName | None = Field(
        default=None,
        description="The file read: customers, orders, refunds, subscriptions or support_tickets (the --customers, "
        "--orders, --refunds, --subscriptions, --tickets file). Default: the section's own.",
    )
    filter: str | None = Field(default=None, description="Keep only lines where this condition is true (an empty value counts as false).")
    group_by: list[str] | None = Field(
        default=None, min_length=1, description="Expressions whose values identify a row of the table (e.g. [InvoiceNo])."
    )
    columns: dict[str, str | ColumnV2] = Field(
        description="Schema column -> expression (a plain string) or a full column mapping."
    )

    def column_maps(self) -> dict[str, ColumnV2]:
        """Every entry as a :class:`ColumnV2` (plain strings are expressions)."""
        return {k: ColumnV2(expr=v) if isinstance(v, str) else v for k, v in self.columns.items()}


class ImportMappingV2(_Strict):
    """A version-2 mapping file: merchant (with currency), defaults, derivations, one section per table."""

    version: Literal[2] = Field(description="Mapping format version (2).")
    merchant: MerchantInfo
    defaults: ParseDefaults = Field(default_factory=ParseDefaults)
    derive: DeriveOptions = Field(default_factory=DeriveOptions)
    customers: SectionV2 | None = Field(default=None, description="The customers table.")
    subscriptions: SectionV2 | None = Field(default=None, description="The subscriptions table.")
    orders: SectionV2 = Field(description="The orders table.")
    refunds: SectionV2 | None = Field(default=None, description="The refunds table.")
    support_tickets: SectionV2 | None = Field(default=None, description="The support_tickets table (the --tickets file).")

    @model_validator(mode="before")
    @classmethod
    def _importable(cls, data: Any) -> Any:
        # A schema table no import fills deserves a better message than "extra field".
        if isinstance(data, dict):
            for key in data:
                if key in metadata.tables and key not in V2_TABLES:
                    raise ValueError(
                        f"section {key!r}: the {key} table is not filled by imports (it is derived or has no "
                        f"export); remove the section. Sections: {', '.join(V2_TABLES)}"
                    )
        return data

    @model_validator(mode="after")
    def _checks(self) -> ImportMappingV2:
        if self.defaults.decimal_separator != ".":
            raise ValueError("defaults.decimal_separator: version 2 reads numbers with '.' only (see the number grammar)")
        for table in V2_TABLES:
            section = getattr(self, table)
            if section is None:
                continue
            for column, spec in section.column_maps().items():
                domain = value_domain(table, column)
                if domain is None or spec.map is None:
                    continue
                allowed, what = domain
                bad = [f"{k!r} -> {v!r}" for k, v in spec.map.items() if str(v) not in allowed]
                if bad:
                    raise ValueError(f"{table}.columns.{column}.map: {', '.join(bad[:5])}: not {what}")
        return self

    def table(self, name: str) -> SectionV2 | None:
        """The section of a table, if the mapping has one."""
        return getattr(self, name, None)
