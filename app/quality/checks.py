"""Data-quality checks computed in SQL over the source tables, at a date.

Each table with rules in the settings is checked over the rows *known at the date* (its date
column on or before it), so a database holding a short future answers like a snapshot taken at
that date. One aggregate query per table counts every row-level failure at once (completeness,
validity, formats, duplicate keys); one anti-join per reference counts rows pointing at a missing
parent; offending keys are fetched only for checks that failed. Ratios are computed in Python
from the integer counts, so SQLite and PostgreSQL round alike.

The tables come from the caller (the storage schema), so this package does not depend on storage.

Example:
    >>> from app.storage.schema import metadata
    >>> from app.providers.data_agent import DataAgent
    >>> agent = DataAgent.create("steady_operations", "marcus_thompson", seed=1)
    >>> with agent.engine.connect() as conn:
    ...     report = run_checks(conn, metadata.tables, agent.default_as_of())
    >>> report.verdict
    'ok'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import DateTime, Table, and_, case, func, inspect, not_, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from app.quality.results import CheckResult, Level, QualityReport, TableStatus, verdict_of
from app.quality.settings import Dimension, QualitySettings, TableRules, load_quality_settings

__all__ = ["run_checks", "with_import", "scope", "day_of"]

_EMAIL_PATTERN = "%_@_%._%"


@dataclass(frozen=True)
class _Rule:
    dimension: Dimension
    check: str
    fails: ColumnElement[bool]


def day_of(value: object) -> dt.date:
    """A DATE or TIMESTAMP value as a date (drivers return either)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def scope(table: Table, column: str, as_of: dt.date) -> ColumnElement[bool]:
    """Rows of ``table`` dated on or before ``as_of`` by ``column`` (a DATE or a TIMESTAMP)."""
    col = table.c[column]
    if isinstance(col.type, DateTime):
        return col < dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    return col <= as_of


def _blank(col: ColumnElement) -> ColumnElement[bool]:
    return or_(col.is_(None), func.trim(col) == "")


def _row_rules(table: Table, rules: TableRules) -> list[_Rule]:
    """Rules judged row by row (everything but references, uniqueness and timeliness)."""
    c = table.c
    out = [_Rule("completeness", f"{name} filled", _blank(c[name])) for name in rules.required]
    out += [_Rule("validity", f"{name} >= 0", c[name] < 0) for name in rules.non_negative]
    for name, values in rules.allowed.items():
        out.append(_Rule("validity", f"{name} in its vocabulary", and_(c[name].isnot(None), c[name].not_in(values))))
    for name, (low, high) in rules.ranges.items():
        out.append(
            _Rule(
                "validity",
                f"{name} in [{low:g}, {high:g}]",
                and_(c[name].isnot(None), or_(c[name] < low, c[name] > high)),
            )
        )
    for earlier, later in rules.date_order:
        out.append(
            _Rule("validity", f"{later} not before {earlier}", and_(c[later].isnot(None), c[later] < c[earlier]))
        )
    for name, fmt in rules.formats.items():
        col = c[name]
        bad: ColumnElement[bool]
        if fmt == "email":
            bad = not_(col.like(_EMAIL_PATTERN))
        else:  # country_code: two upper-case letters
            bad = or_(func.length(col) != 2, func.upper(col) != col)
        out.append(_Rule("consistency", f"{name} is a valid {fmt.replace('_', ' ')}", and_(not_(_blank(col)), bad)))
    return out


def _level(ratio: float, dimension: str, settings: QualitySettings) -> Level:
    if ratio < settings.poor_below.of(dimension):
        return "poor"
    return "warn" if ratio < settings.warn_below.of(dimension) else "ok"


def _enforced(conn: Connection, child: ColumnElement, parent: ColumnElement) -> bool:
    """Whether the database itself rejects orphans of this reference: PostgreSQL always enforces a
    foreign key; SQLite only when each writer turns it on, so there the check runs."""
    keys = getattr(child, "foreign_keys", ())
    return conn.dialect.name == "postgresql" and any(fk.column is parent for fk in keys)


def _ratio_result(
    dimension: Dimension,
    table: str,
    check: str,
    total: int,
    failed: int,
    examples: list[str],
    settings: QualitySettings,
) -> CheckResult:
    ratio = round((total - failed) / total, 4) if total else 1.0
    level = _level(ratio, dimension, settings) if failed else "ok"
    threshold = settings.warn_below.of(dimension)
    warning = None
    if level != "ok":
        shown = f"; e.g. {', '.join(examples)}" if examples else ""
        warning = (
            f"{table}: {check} fails for {failed:,} of {total:,} rows ({ratio:.1%} pass, {dimension} "
            f"warns below {threshold:.0%}){shown}"
        )
    return CheckResult(
        dimension=dimension, table=table, check=check, total=total, failed=failed, ratio=ratio,
        threshold=threshold, examples=examples, level=level, warning=warning,
    )  # fmt: skip


def _examples(conn: Connection, key: ColumnElement, where: ColumnElement[bool], n: int) -> list[str]:
    if n == 0:
        return []
    return [str(k) for (k,) in conn.execute(select(key).where(where).order_by(key).limit(n))]


def _check_table(
    conn: Connection,
    tables: Mapping[str, Table],
    name: str,
    rules: TableRules,
    as_of: dt.date,
    settings: QualitySettings,
) -> tuple[int, list[CheckResult]]:
    table = tables[name]
    key = table.c[rules.key]
    in_scope = scope(table, rules.date, as_of)
    row_rules = _row_rules(table, rules)
    counts = [func.sum(case((r.fails, 1), else_=0)) for r in row_rules]
    newest_col = func.max(table.c[rules.date])
    # a single-column primary key is unique by the database's own constraint: no need to count it
    pk = list(table.primary_key.columns)
    enforced = len(pk) == 1 and pk[0] is key
    distinct_col = func.count() if enforced else func.count(func.distinct(key))
    stmt = select(func.count(), distinct_col, newest_col, *counts).where(in_scope)
    total, distinct, newest, *failed = conn.execute(stmt).one()
    total = int(total)
    if total == 0:
        return 0, []
    results: list[CheckResult] = []
    examples: list[str]
    n = settings.examples
    for rule, bad in zip(row_rules, failed, strict=True):
        bad = int(bad or 0)
        examples = _examples(conn, key, and_(in_scope, rule.fails), n) if bad else []
        results.append(_ratio_result(rule.dimension, name, rule.check, total, bad, examples, settings))
    for column, target in rules.references.items():
        parent_name, parent_key = target.split(".")
        parent = tables[parent_name]
        child = table.c[column]
        orphan = and_(in_scope, child.isnot(None), parent.c[parent_key].is_(None))
        joined = table.outerjoin(parent, parent.c[parent_key] == child)
        bad = 0
        if not _enforced(conn, child, parent.c[parent_key]):
            bad = int(conn.execute(select(func.count()).select_from(joined).where(orphan)).scalar_one())
        examples = []
        if bad and n:
            rows = conn.execute(select(key).select_from(joined).where(orphan).order_by(key).limit(n))
            examples = [str(k) for (k,) in rows]
        check = f"{column} points at an existing {parent_name} row"
        results.append(_ratio_result("consistency", name, check, total, bad, examples, settings))
    duplicates = total - int(distinct)
    examples = []
    if duplicates and n:
        stmt = select(key).where(in_scope).group_by(key).having(func.count() > 1).order_by(key).limit(n)
        examples = [str(row[0]) for row in conn.execute(stmt)]
    results.append(_ratio_result("uniqueness", name, f"{rules.key} unique", total, duplicates, examples, settings))
    if rules.max_age_days is not None:
        results.append(_freshness(name, day_of(newest), as_of, total, rules.max_age_days, settings))
    return total, results


def _freshness(
    table: str, newest: dt.date, as_of: dt.date, total: int, max_age: int, settings: QualitySettings
) -> CheckResult:
    age = (as_of - newest).days
    level: Level = "poor" if age > max_age * settings.stale_poor_factor else "warn" if age > max_age else "ok"
    warning = None
    if level != "ok":
        warning = (
            f"{table}: newest row is from {newest}, {age} days before {as_of} (timeliness warns after {max_age} days)"
        )
    return CheckResult(
        dimension="timeliness", table=table, check=f"newest row within {max_age} days", total=total,
        failed=int(level != "ok"), newest=newest, age_days=age, threshold=float(max_age), level=level, warning=warning,
    )  # fmt: skip


def run_checks(
    conn: Connection,
    tables: Mapping[str, Table],
    as_of: dt.date,
    settings: QualitySettings | None = None,
    *,
    present: set[str] | None = None,
) -> QualityReport:
    """Every check of the settings over the rows known at ``as_of``.

    Args:
        tables: the source tables by name (``app.storage.schema.metadata.tables``).
        present: names of the tables the database has (default: asked from the database).

    A table without rows is reported ``empty`` and a table the database lacks ``absent``; neither
    is a failure (an orders-only shop has no tickets). Timeliness: a table's newest row older than
    its ``max_age_days`` before ``as_of`` warns.
    """
    settings = settings or load_quality_settings()
    if present is None:
        present = set(inspect(conn).get_table_names())
    status: dict[str, TableStatus] = {}
    checks: list[CheckResult] = []
    for name, rules in settings.tables.items():
        if name not in present or name not in tables:
            status[name] = "absent"
            continue
        total, results = _check_table(conn, tables, name, rules, as_of, settings)
        status[name] = "checked" if total else "empty"
        checks += results
    verdict, reasons = verdict_of(checks)
    return QualityReport(as_of=as_of, tables=status, checks=checks, verdict=verdict, reasons=reasons)


IMPORT_TABLE = "import"
"""The pseudo-table of an import's own check: the source rows it had to reject."""


def with_import(
    report: QualityReport, accepted: int, rejected: int, settings: QualitySettings | None = None
) -> QualityReport:
    """``report`` plus the validity of an import's source rows: rows accepted out of rows read.

    Rows an import rejects (duplicate ids, orders of unknown customers, unreadable values) never
    reach the tables, so the table checks cannot see them; this check does.
    """
    settings = settings or load_quality_settings()
    total = accepted + rejected
    check = _ratio_result("validity", IMPORT_TABLE, "source rows accepted", total, rejected, [], settings)
    checks = [*report.checks, check]
    verdict, reasons = verdict_of(checks)
    return report.model_copy(update={"checks": checks, "verdict": verdict, "reasons": reasons})
