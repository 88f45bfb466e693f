"""Version-2 sections as DuckDB SQL: row expressions and filter, group_by, conversion to the schema.

Each section becomes three DuckDB tables: ``r_<table>`` (per line: the filter, the expressions
and the first reason, if any, to reject the line), ``a_<table>`` (kept lines, grouped and
aggregated when the section has ``group_by``) and ``o_<table>`` (schema columns converted and
checked: required values, domains, lengths, whole cents). A rejected line rejects its whole
group: an invoice missing a line would otherwise get a wrong total silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Date, DateTime, Integer, String

from app.errors import DataFileError
from app.storage.csv_reader import DEFAULTS, REQUIRED
from app.storage.duck_stage import StagedFile
from app.storage.expressions import (
    Check,
    Compiled,
    ExpressionError,
    SqlContext,
    as_number,
    as_time,
    compile_expression,
    sql_text,
)
from app.storage.mapping_v2 import ColumnV2, ImportMappingV2, SectionV2, value_domain
from app.storage.schema import metadata

__all__ = ["KEY_COLUMN", "REQUIRED_V2", "SectionPlan", "plan_section"]

KEY_COLUMN = {"customers": "customer_id", "subscriptions": "subscription_id", "orders": "order_id",
              "refunds": "refund_id", "support_tickets": "ticket_id"}

REQUIRED_V2: dict[str, tuple[str, ...]] = {
    **REQUIRED,
    "refunds": ("refund_id", "customer_id", "refunded_on", "amount_cents"),
}
"""Columns a version-2 section must fill."""

_DEFAULTS_V2: dict[str, dict[str, Any]] = {**DEFAULTS, "refunds": {"order_id": None, "reason": None}}

_NOT_MAPPABLE = {
    ("customers", "merchant_id"): "set from the mapping's merchant",
    ("support_tickets", "status"): "derived from first_response_at and resolved_at",
}
_DERIVED_LATER = {("customers", "name"), ("customers", "created_on")}  # from the id and the first activity
_DERIVED_FROM_ROW = {("support_tickets", "status"), ("support_tickets", "sentiment")}  # from the row's other columns


@dataclass
class SectionPlan:
    """The DuckDB tables of one section, for the importer to read rejects and rows from."""

    table: str
    file: StagedFile
    columns: list[str]
    """Schema columns of ``o_<table>``, in the schema's order."""


def _where(source: str, table: str, column: str | None = None) -> str:
    return f"{source}: field '{table}" + (f".columns.{column}'" if column else "'")


def _reason_case(checks: list[tuple[str, Check]]) -> tuple[str, str]:
    if not checks:
        return "CAST(NULL AS VARCHAR)", "CAST(NULL AS VARCHAR)"
    reasons = " ".join(f"WHEN {guard}({c.condition}) THEN {sql_text(c.reason)}" for guard, c in checks)
    values = " ".join(f"WHEN {guard}({c.condition}) THEN CAST({c.value} AS VARCHAR)" for guard, c in checks)
    return f"CASE {reasons} END", f"CASE {values} END"


def plan_section(duck: Any, mapping: ImportMappingV2, table: str, staged: StagedFile, source: str) -> SectionPlan:
    """Create the section's DuckDB tables; mapping mistakes raise :class:`DataFileError` naming the field."""
    section = mapping.table(table)
    assert section is not None
    schema = metadata.tables[table]
    specs = section.column_maps()
    for column in specs:
        if column not in schema.c:
            valid = ", ".join(c.name for c in schema.columns if (table, c.name) not in _NOT_MAPPABLE)
            raise DataFileError(f"{_where(source, table, column)}: no column {column!r} in table {table}; its columns: {valid}")
        if (table, column) in _NOT_MAPPABLE:
            raise DataFileError(f"{_where(source, table, column)}: cannot be mapped, it is {_NOT_MAPPABLE[(table, column)]}")
    missing = [c for c in REQUIRED_V2[table] if c not in specs]
    if missing:
        raise DataFileError(f"{_where(source, table)}': required column(s) {', '.join(missing)} not mapped; add them")
    d = mapping.defaults
    ctx = SqlContext(staged.columns, d.date_formats, d.datetime_formats)
    try:
        values = _row_stage(duck, table, section, specs, staged, ctx, source)
        _group_stage(duck, table, section, values)
        columns = _output_stage(duck, mapping, table, specs, values, source)
    except ExpressionError as exc:
        raise DataFileError(f"{_where(source, table)}: {exc}") from None
    return SectionPlan(table, staged, columns)


def _compile(text: str, ctx: SqlContext, where: str) -> Compiled:
    try:
        return compile_expression(text, ctx)
    except ExpressionError as exc:
        raise DataFileError(f"{where}: {exc}") from None


def _row_stage(
    duck: Any, table: str, section: SectionV2, specs: dict[str, ColumnV2], staged: StagedFile, ctx: SqlContext, source: str
) -> dict[str, tuple[str, Compiled | None, Any]]:
    """``r_<table>``: one row per line with the filter, group keys, column inputs and the reason to reject.

    Returns schema column -> (kind, compiled input or None for constants, constant).
    """
    keep = "TRUE"
    if section.filter is not None:
        cond = _compile(section.filter, ctx, f"{_where(source, table)}.filter'")
        if cond.type not in ("boolean", "null"):
            raise DataFileError(f"{_where(source, table)}.filter': {section.filter!r} is a {cond.type}, not a condition")
        keep = f"coalesce({cond.sql}, FALSE)"
    filter_checks, ctx.checks = ctx.checks, []
    keys = [_compile(g, ctx, f"{_where(source, table)}.group_by'") for g in section.group_by or []]
    key_text = [g.strip() for g in section.group_by or []]
    values: dict[str, tuple[str, Compiled | None, Any]] = {}
    for column, spec in specs.items():
        kind, origin = spec.origin
        where = _where(source, table, column)
        if kind == "constant":
            values[column] = ("constant", None, origin)
        elif kind == "count" and str(origin).strip() == "*" and section.group_by is not None:
            values[column] = ("count", Compiled("1", "number"), None)
        elif kind == "expr" and section.group_by is not None:
            if str(origin).strip() not in key_text:
                raise DataFileError(
                    f"{where}: {origin!r} is not one of the group_by expressions; use an aggregate "
                    f"(first, min, max, sum, count) in a grouped section"
                )
            index = key_text.index(str(origin).strip())
            values[column] = ("key", keys[index], index)
        elif kind != "expr" and section.group_by is None:
            raise DataFileError(f"{where}: {kind} aggregates lines; add group_by to the section (or use expr)")
        else:
            compiled = _compile(str(origin), ctx, where)
            if kind == "sum":
                compiled = as_number(ctx, compiled, str(origin))
            values[column] = (kind, compiled, None)
    checks = [("", c) for c in filter_checks] + [(f"{keep} AND ", c) for c in ctx.checks]
    reason, value = _reason_case(checks)
    inputs = [f"{k.sql} AS k{i}" for i, k in enumerate(keys)]
    inputs += [f"{c.sql} AS \"e_{col}\"" for col, (kind, c, _) in values.items() if c is not None and kind != "key"]
    duck.execute(
        f"CREATE TABLE r_{table} AS SELECT _line, {keep} AS _keep, {reason} AS _reason, {value} AS _value"
        + "".join(", " + x for x in inputs)
        + f" FROM {staged.view}"
    )
    return values


_AGG = {"sum": "sum({x})", "min": "min({x})", "max": "max({x})", "count": "count({x})",
        "first": "first({x} ORDER BY _line) FILTER (WHERE {x} IS NOT NULL)"}


def _group_stage(duck: Any, table: str, section: SectionV2, values: dict[str, tuple[str, Compiled | None, Any]]) -> None:
    """``a_<table>``: the lines kept, one per row, or their groups aggregated (a rejected line rejects its group)."""
    if section.group_by is None:
        cols = [f'"e_{col}" AS "v_{col}"' for col, (kind, c, _) in values.items() if c is not None]
        duck.execute(
            f"CREATE TABLE a_{table} AS SELECT _line{''.join(', ' + c for c in cols)} "
            f"FROM r_{table} WHERE _keep AND _reason IS NULL"
        )
        return
    n = len(section.group_by)
    keys = ", ".join(f"k{i}" for i in range(n))
    same = " AND ".join(f"b.k{i} IS NOT DISTINCT FROM r.k{i}" for i in range(n))
    duck.execute(f"CREATE TABLE g_{table} AS SELECT DISTINCT {keys} FROM r_{table} WHERE _keep AND _reason IS NOT NULL")
    # Lines of a group that lost a line: rejected too, naming the group.
    key_value = " || ' / ' || ".join(f"coalesce(CAST(r.k{i} AS VARCHAR), '')" for i in range(n))
    duck.execute(
        f"UPDATE r_{table} AS r SET _reason = 'another line of the same group was rejected', _value = {key_value} "
        f"WHERE r._keep AND r._reason IS NULL AND EXISTS (SELECT 1 FROM g_{table} b WHERE {same})"
    )
    cols = [
        f'k{index} AS "v_{col}"' if kind == "key" else _AGG[kind].format(x=f'"e_{col}"') + f' AS "v_{col}"'
        for col, (kind, c, index) in values.items()
        if c is not None
    ]
    duck.execute(
        f"CREATE TABLE a_{table} AS SELECT min(_line) AS _line{''.join(', ' + c for c in cols)} "
        f"FROM r_{table} WHERE _keep AND _reason IS NULL GROUP BY {keys}"
    )


def _output_stage(
    duck: Any, mapping: ImportMappingV2, table: str, specs: dict[str, ColumnV2],
    values: dict[str, tuple[str, Compiled | None, Any]], source: str,
) -> list[str]:
    """``o_<table>``: every schema column converted to its type and checked, with the reason to reject a row."""
    schema = metadata.tables[table]
    d = mapping.defaults
    ctx = SqlContext([], d.date_formats, d.datetime_formats)
    sql_of: dict[str, str] = {}
    for col in schema.columns:
        name = col.name
        if (table, name) in _NOT_MAPPABLE:
            literal = sql_text(mapping.merchant.merchant_id) if name == "merchant_id" else "CAST(NULL AS VARCHAR)"
            sql_of[name] = literal
            continue
        value = _value(values.get(name), name, table)
        spec = specs.get(name)
        if spec is not None and spec.map is not None:
            value = _map(value, spec.map, f"{_where(source, table, name)}")
        default = spec.default if spec is not None and spec.default is not None else None
        if default is None and (table, name) not in _DERIVED_LATER:  # unmapped or empty: the column's default, as in version 1
            default = _DEFAULTS_V2[table].get(name)
        if default is not None:
            value = Compiled(f"coalesce(CAST({value.sql} AS VARCHAR), {sql_text(str(default))})" if value.type != "text"
                             else f"coalesce({value.sql}, {sql_text(str(default))})", "text")
        domain = value_domain(table, name)
        if domain is not None:  # before the length check: the domain is the better reason
            allowed, what = domain
            listed = ", ".join(sql_text(v) for v in sorted(allowed))
            ctx.checks.append(Check(f"({value.sql}) NOT IN ({listed})", f"{name}: not {what}; translate it with `map`", value.sql))
        value = _convert(ctx, value, col, table, _where(source, table, name))
        sql_of[name] = value.sql
        derived = (table, name) in _DERIVED_LATER or (table, name) in _DERIVED_FROM_ROW
        if name in REQUIRED_V2[table] or (not col.nullable and not derived):
            ctx.checks.append(Check(f'({value.sql}) IS NULL', f"{name}: empty", "''"))
    _row_rules(table, sql_of, ctx.checks)
    reason, val = _reason_case([("", c) for c in ctx.checks])
    duck.execute(
        f"CREATE TABLE o_{table} AS SELECT _line, {reason} AS _reason, {val} AS _value, "
        + ", ".join(f'{sql} AS "{name}"' for name, sql in sql_of.items()) + f" FROM a_{table}"
    )
    return list(sql_of)


def _row_rules(table: str, sql_of: dict[str, str], checks: list[Check]) -> None:
    """Rules between a row's converted columns (``sql_of``: column -> SQL), and the columns derived from others.

    The same rules as version-1 rows (:func:`app.storage.csv_reader.check_row`): dates in order,
    ratings 1-5 and only on resolved tickets, a derived ticket status and, when not mapped,
    a sentiment that follows the rating.
    """
    c = {name: f"({sql})" for name, sql in sql_of.items()}
    if table == "refunds":
        checks.append(Check(f"{c['amount_cents']} <= 0", "amount_cents: not positive (a refund is the money returned)", c["amount_cents"]))
    elif table == "subscriptions":
        checks.append(Check(f"{c['monthly_price_cents']} < 0", "monthly_price_cents: negative", c["monthly_price_cents"]))
        checks.append(Check(f"{c['cancelled_on']} < {c['started_on']}", "cancelled_on: before started_on", c["cancelled_on"]))
        sql_of["cancel_reason"] = f"CASE WHEN {c['cancelled_on']} IS NOT NULL THEN {c['cancel_reason']} END"
    elif table == "support_tickets":
        for col in ("first_response_at", "resolved_at"):
            checks.append(Check(f"{c[col]} < {c['created_at']}", f"{col}: before created_at", c[col]))
        rating = c["csat_rating"]
        checks.append(Check(f"{rating} NOT BETWEEN 1 AND 5", "csat_rating: not between 1 and 5", rating))
        checks.append(Check(f"{rating} IS NOT NULL AND {c['resolved_at']} IS NULL",
                            "csat_rating: given for a ticket that is not resolved", rating))
        by_rating = f"CASE WHEN {rating} <= 2 THEN 'negative' WHEN {rating} >= 4 THEN 'positive' ELSE 'neutral' END"
        sql_of["sentiment"] = f"coalesce({c['sentiment']}, {by_rating})"
        sql_of["status"] = (f"CASE WHEN {c['resolved_at']} IS NOT NULL THEN 'resolved' "
                            f"WHEN {c['first_response_at']} IS NOT NULL THEN 'pending' ELSE 'open' END")


def _value(entry: tuple[str, Compiled | None, Any] | None, name: str, table: str) -> Compiled:
    if entry is None:
        return Compiled("NULL", "null")
    kind, compiled, constant = entry
    if kind == "constant":
        return Compiled(sql_text(str(constant)), "text")
    assert compiled is not None
    typ = "number" if kind in ("sum", "count") else compiled.type
    return Compiled(f'"v_{name}"', typ)


def _map(value: Compiled, table: dict[str, Any], where: str) -> Compiled:
    if value.type not in ("text", "null"):
        raise DataFileError(f"{where}.map': a value map needs a text value, got a {value.type}")
    cases = " ".join(f"WHEN {sql_text(str(k).strip().lower())} THEN {sql_text(str(v))}" for k, v in table.items())
    return Compiled(f"(CASE lower(trim({value.sql})) {cases} ELSE {value.sql} END)", "text")


def _convert(ctx: SqlContext, value: Compiled, col: Any, table: str, where: str) -> Compiled:
    t, name = col.type, col.name
    if value.type == "boolean":
        raise DataFileError(f"{where}: a condition cannot fill {table}.{name}; use if(condition, a, b)")
    if isinstance(t, DateTime):
        return as_time(ctx, value, ctx.datetime_formats + ctx.date_formats, "timestamp", name)
    if isinstance(t, Date):
        return as_time(ctx, value, ctx.date_formats + ctx.datetime_formats, "date", name)
    if isinstance(t, Integer):
        number = as_number(ctx, value, name)
        cents = name.endswith("_cents")
        # A value the column cannot hold is a rejected row, not a database error at write time.
        limit = (2**63 - 1 if isinstance(t, BigInteger) else 2**31 - 1) // (100 if cents else 1)
        fits = f"abs({number.sql}) <= {limit}"
        ctx.checks.append(Check(f"NOT ({fits})", f"{name}: too large for the column (at most {limit:,})", number.sql))
        if cents:  # rounded once, half away from zero (DuckDB's decimal ROUND)
            return Compiled(f"CASE WHEN {fits} THEN CAST(round({number.sql} * 100) AS BIGINT) END", "number")
        ctx.checks.append(Check(f"({number.sql}) <> round({number.sql})", f"{name}: not a whole number", number.sql))
        return Compiled(f"CASE WHEN {fits} THEN CAST({number.sql} AS BIGINT) END", "number")
    if value.type in ("date", "timestamp", "number"):
        raise DataFileError(f"{where}: a {value.type} cannot fill the text column {table}.{name}; give a text expression")
    if isinstance(t, String) and t.length is not None:
        ctx.checks.append(Check(f"length({value.sql}) > {t.length}", f"{name}: longer than the {t.length} characters allowed", value.sql))
    return value
