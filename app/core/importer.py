"""Importing a source file into the universal core through a mapping template.

The file is staged in a private DuckDB database (:mod:`app.storage.duck_stage`: one streaming
read, exact line numbers, wrong field counts rejected); every template expression is compiled by
the version-2 expression language (:mod:`app.storage.expressions`) into one SELECT that yields,
per line, the first reason to reject it and the converted values. Rows are then validated as
core entities (:class:`~app.core.records.EntityIn`) and industry attributes (JSON Schema), and
written with their lineage in one transaction of the operations store (:mod:`app.core.writer`),
in batches of :data:`BATCH_ROWS` lines.
Rejected lines are reported with their line number and reason; the others are imported, and the
segments their entities name are refreshed (:mod:`app.core.segments`).

Example:
    >>> import datetime as dt
    >>> from pathlib import Path
    >>> from app.storage.ops import OpsStore
    >>> from app.core.templates import get_template
    >>> from app.datafiles import data_dir
    >>> sample = data_dir() / "templates" / "samples" / "telco_churn_sample.csv"
    >>> result = import_file(OpsStore.in_memory(), get_template("telecom"), sample, as_of=dt.date(2025, 1, 31))
    >>> (result.read, result.imported, result.rejected)
    (200, 197, 3)
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from pydantic import ValidationError

from app.core.industries import Industry
from app.core.records import EntityIn, OutcomeIn, SourceRef
from app.core.segments import refresh_segments
from app.core.templates import CORE_COLUMNS, CoreTemplate
from app.core.writer import CoreWriter
from app.errors import CJSimError, DataFileError
from app.storage.duck_stage import StagedFile, stage_file, staging_area
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
from app.storage.import_problems import Reject, RejectLog
from app.storage.ops import OpsStore

__all__ = ["BATCH_ROWS", "ImportResult", "import_file"]

BATCH_ROWS = 5_000
"""Lines fetched from DuckDB, validated and written at a time (memory is bounded by this, not the file)."""


@dataclass(frozen=True)
class ImportResult:
    """What an import did: its run id, records read, imported and rejected, outcomes written, segments refreshed, the rejects."""

    run_id: int
    read: int
    imported: int
    rejected: int
    outcomes: int
    segments: int
    log: RejectLog


@dataclass
class _Plan:
    columns: list[str]
    """Output names after _line, _reason, _value, _id."""
    kinds: dict[str, str]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _convert(ctx: SqlContext, value: Compiled, kind: str, label: str) -> Compiled:
    """``value`` as a core column of ``kind`` (text, integer, number, cents, date, boolean)."""
    if kind in ("integer", "number", "cents"):
        number = as_number(ctx, value, label)
        if kind == "integer":
            ctx.checks.append(Check(f"({number.sql}) <> round({number.sql})", f"{label}: not a whole number", number.sql))
        return number
    if kind == "date":
        return as_time(ctx, value, ctx.date_formats + ctx.datetime_formats, "date", label)
    if kind == "boolean":
        if value.type not in ("boolean", "null"):
            raise ExpressionError(f"{label}: needs a condition (e.g. Churn = 'No'), got a {value.type}")
        return value
    if value.type == "boolean":
        raise ExpressionError(f"{label}: a condition cannot fill a text; use if(condition, 'a', 'b')")
    return value if value.type in ("text", "null") else Compiled(f"CAST({value.sql} AS VARCHAR)", "text")


def _plan(duck: Any, template: CoreTemplate, staged: StagedFile, where: str) -> _Plan:
    """Create DuckDB table ``core_rows``: _line, _reason, _value, _id and every output column."""
    d = template.defaults
    ctx = SqlContext(staged.columns, d.date_formats, d.datetime_formats)
    first: list[Check] = []
    for col in template.required + list(template.allowed):
        if col not in staged.columns:
            raise DataFileError(f"{where}: no column {col!r} in the file (its columns: {', '.join(staged.columns)})")
    for col in template.required:
        first.append(Check(f"nullif(trim({_ident(col)}), '') IS NULL", f"{col}: empty", "''"))
    for col, values in template.allowed.items():
        listed = ", ".join(sql_text(v) for v in values)
        first.append(Check(f"trim({_ident(col)}) NOT IN ({listed})", f"{col}: not one of {', '.join(values)}",
                           f"trim({_ident(col)})"))
    outputs: dict[str, Compiled] = {}
    kinds: dict[str, str] = {}

    def compile_as(label: str, text: str, kind: str | None) -> None:
        try:
            value = compile_expression(text, ctx)
            outputs[label] = _convert(ctx, value, kind, label) if kind else value
        except ExpressionError as exc:
            raise DataFileError(f"{where}: field {label!r}: {exc}") from None
        kinds[label] = kind or outputs[label].type

    compile_as("_id", template.record_id, "text")
    for col, text in template.field_expressions().items():
        compile_as(col, text, CORE_COLUMNS[col])
    for col, mapping in template.json_expressions().items():
        for key, text in mapping.items():
            compile_as(f"{col}.{key}", text, None)
    for i, rule in enumerate(template.outcomes):
        if rule.when is not None:
            compile_as(f"outcomes.{i}.when", rule.when, "boolean")
        if rule.at is not None:
            compile_as(f"outcomes.{i}.at", rule.at, None)
            if kinds[f"outcomes.{i}.at"] not in ("date", "timestamp"):
                outputs[f"outcomes.{i}.at"] = as_time(ctx, outputs[f"outcomes.{i}.at"],
                                                      ctx.datetime_formats + ctx.date_formats, "timestamp", f"outcomes.{i}.at")
        if rule.value is not None:
            compile_as(f"outcomes.{i}.value", rule.value, "cents")
    if "data_quality_score" not in outputs and ctx.used:
        present = " + ".join(f"CAST(nullif(trim({_ident(c)}), '') IS NOT NULL AS INTEGER)" for c in sorted(ctx.used))
        outputs["data_quality_score"] = Compiled(f"(({present}) / {len(ctx.used)}.0)", "number")
        kinds["data_quality_score"] = "number"
    checks = first + ctx.checks
    reason = "CASE " + " ".join(f"WHEN {c.condition} THEN {sql_text(c.reason)}" for c in checks) + " END" if checks else "NULL"
    value = "CASE " + " ".join(f"WHEN {c.condition} THEN CAST({c.value} AS VARCHAR)" for c in checks) + " END" if checks else "NULL"
    names = list(outputs)
    select = ", ".join(f"{outputs[n].sql} AS {_ident(n)}" for n in names)
    duck.execute(f"CREATE TABLE core_rows AS SELECT _line, {reason} AS _reason, {value} AS _value, {select} FROM {staged.view}")
    return _Plan(names, kinds)


def _json_value(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _entity(row: dict[str, Any], plan: _Plan, template: CoreTemplate) -> EntityIn:
    values: dict[str, Any] = {}
    docs: dict[str, dict[str, Any]] = {}
    for name in plan.columns:
        value = row[name]
        if "." in name and not name.startswith("outcomes."):
            col, key = name.split(".", 1)
            docs.setdefault(col, {})[key] = _json_value(value)
        elif name in CORE_COLUMNS and value is not None:
            kind = plan.kinds[name]
            if kind == "cents":
                value = int(decimal.Decimal(value).quantize(decimal.Decimal("0.01"), decimal.ROUND_HALF_UP) * 100)
            elif kind == "number":
                value = float(value)
            elif kind == "integer":
                value = int(value)
            values[name] = value
    # a key whose value is empty is left out, so optional attributes stay optional
    for col, doc in docs.items():
        values[col] = {k: v for k, v in doc.items() if v is not None}
    return EntityIn(**values)


def _outcomes(row: dict[str, Any], template: CoreTemplate, as_of: dt.date) -> list[OutcomeIn]:
    out = []
    for i, rule in enumerate(template.outcomes):
        if rule.when is not None and not row[f"outcomes.{i}.when"]:
            continue
        at = row.get(f"outcomes.{i}.at") if rule.at is not None else None
        if isinstance(at, dt.date) and not isinstance(at, dt.datetime):
            at = dt.datetime.combine(at, dt.time())
        value = row.get(f"outcomes.{i}.value")
        cents = int(decimal.Decimal(value).quantize(decimal.Decimal("0.01"), decimal.ROUND_HALF_UP) * 100) if value is not None else None
        out.append(OutcomeIn(outcome_type=rule.type, outcome_at=at or dt.datetime.combine(as_of, dt.time()), value_cents=cents))
    return out


def _problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]


def import_file(
    store: OpsStore, template: CoreTemplate, path: Path, *, as_of: dt.date, now: dt.datetime | None = None,
    log: RejectLog | None = None,
) -> ImportResult:
    """Import ``path`` through ``template`` into the store's universal core; returns the counts and rejects.

    Lines that break the template's rules are rejected with their line number and reason (in
    ``result.log``); the rest are written with lineage, all in one transaction. An entity already
    in the core (same industry, type and external id) is updated, and the outcomes its source
    record produced before are replaced.

    Raises:
        DataFileError: the file cannot be read, or the template does not fit it (a missing column, a bad expression).
        UnknownNameError: the template's industry is unknown.
    """
    log = log or RejectLog()
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    where = f"template {template.name}"
    with staging_area() as (duck, workdir):
        before = log.total
        staged = stage_file(duck, "source", path, template.defaults, workdir, log)
        read = staged.lines + log.total - before  # records of a wrong width were read, then rejected
        try:
            plan = _plan(duck, template, staged, where)
            cur = duck.execute("SELECT * FROM core_rows ORDER BY _line")
            names = [c[0] for c in cur.description]
            with store.transaction() as conn:
                writer = CoreWriter.start(conn, template.industry, template=template.name,
                                          source_system=template.source_system, source=str(path), as_of=as_of, now=now)
                seen: dict[str, int] = {}
                imported = outcomes = 0
                while batch := cur.fetchmany(BATCH_ROWS):
                    rows = [dict(zip(names, r, strict=True)) for r in batch]
                    records = _validate(rows, plan, template, path.name, as_of, log, seen)
                    good = _admissible(records, writer.industry, path.name, log)
                    ids = writer.write_entities([(e, [ref]) for ref, e, _ in good])
                    writer.forget_outcomes([ref for ref, _, _ in good])
                    outcomes += len(writer.write_outcomes(
                        [(i, o, ref) for i, (ref, _, os) in zip(ids, good, strict=True) for o in os]))
                    imported += len(good)
                writer.finish(read=read, rejected=log.total - before)
                segments = refresh_segments(conn, writer.industry.name, at=as_of, now=now)
        except duckdb.Error as exc:
            raise DataFileError(f"{where}: the file {path.name} could not be transformed: {exc}") from None
    return ImportResult(writer.run_id, read, imported, log.total - before, outcomes, segments, log)


def _admissible(
    records: list[tuple[int, SourceRef, EntityIn, list[OutcomeIn]]], industry: Industry, file: str, log: RejectLog,
) -> list[tuple[SourceRef, EntityIn, list[OutcomeIn]]]:
    """The records whose attributes follow the industry's schema and whose outcome types it has; the others are rejected."""
    good = []
    for line, ref, entity, outcomes in records:
        problems = industry.attribute_problems(entity.attributes)
        bad_type = next((o.outcome_type for o in outcomes if o.outcome_type not in industry.outcome_types), None)
        if problems:
            log.add(Reject(file, line, f"attributes: {problems[0]}", "core_entities"))
        elif bad_type is not None:
            log.add(Reject(file, line, f"outcome type {bad_type!r} is not a {industry.name} outcome", "core_outcomes"))
        else:
            good.append((ref, entity, outcomes))
    return good


def _validate(
    rows: list[dict[str, Any]], plan: _Plan, template: CoreTemplate, file: str, as_of: dt.date, log: RejectLog,
    seen: dict[str, int],
) -> list[tuple[int, SourceRef, EntityIn, list[OutcomeIn]]]:
    """Rows as (line, source, entity, outcomes); rows with a reason, a repeated id or a bad value are rejected."""
    out = []
    for row in rows:
        line = int(row["_line"])
        if row["_reason"] is not None:
            log.add(Reject(file, line, row["_reason"], "core_entities", row["_value"] or ""))
            continue
        record_id = row["_id"]
        if not record_id:
            log.add(Reject(file, line, "record_id: empty", "core_entities"))
            continue
        if record_id in seen:
            log.add(Reject(file, line, f"record id repeats the one on line {seen[record_id]}", "core_entities", record_id))
            continue
        seen[record_id] = line
        try:
            entity = _entity(row, plan, template)
            outcomes = _outcomes(row, template, as_of)
        except ValidationError as exc:
            log.add(Reject(file, line, _problem(exc), "core_entities"))
            continue
        except CJSimError as exc:  # pragma: no cover - conversions are checked in SQL first
            log.add(Reject(file, line, str(exc), "core_entities"))
            continue
        ref = SourceRef(system=template.source_system, table=template.source_table, record_id=str(record_id)[:255])
        out.append((line, ref, entity, outcomes))
    return out
