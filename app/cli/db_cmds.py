"""``cjsim db``: create, fill, refresh and inspect production databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from app.cli.common import MerchantOpt, ScenarioOpt, SeedOpt, StageOpt, StressOpt, console, err_console
from app.cli.options import parse_date
from app.storage.url import DB_URL_ENV

db_app = typer.Typer(
    no_args_is_help=True,
    help="Production databases (SQLite file or PostgreSQL): init, load, import, refresh, info.",
)

UrlOpt = Annotated[
    str,
    typer.Option(
        "--url",
        envvar=DB_URL_ENV,
        show_envvar=True,
        help="sqlite:///file.db or postgresql+psycopg://user:password@host:5432/db.",
    ),
]
ReplaceOpt = Annotated[bool, typer.Option("--replace", help="Delete the data already in the database first.")]


def _plain(console_, text: str) -> None:
    """Print text holding user data (file names, values) literally: no markup, emoji codes or highlighting."""
    console_.print(text, markup=False, emoji=False, highlight=False, soft_wrap=True)


def _report(report) -> None:
    if report.kind == "import":
        lines = sum(report.read.values())
        _plain(
            console,
            f"import: {lines:,} source lines -> {report.total_rows:,} rows into {report.url} in {report.total_seconds:.1f}s "
            f"({report.lines_per_second:,.0f} lines/s and {report.load_rows_per_second:,.0f} rows/s for the whole "
            f"command: reading, checking, transforming, writing, summaries and customer facts); "
            f"{report.rejected:,} rejected",
        )
        for table, n in report.filtered.items():
            if n:
                _plain(console, f"{table}: {n:,} line(s) left out by the section's filter")
    else:
        _plain(
            console,
            f"{report.kind}: {report.total_rows:,} rows into {report.url} in {report.total_seconds:.1f}s "
            f"({report.load_rows_per_second:,.0f} rows/s overall; inserts alone {report.rows_per_second:,.0f} rows/s, "
            f"summaries and customer facts {report.summary_seconds:.1f}s)",
        )
    table = Table("table", "rows")
    for name, n in report.rows.items():
        table.add_row(name, f"{n:,}")
    console.print(table)
    if report.facts_as_of:
        console.print("customer facts materialised for " + ", ".join(str(d) for d in report.facts_as_of))


@db_app.command("init")
def init_cmd(url: UrlOpt) -> None:
    """Create the schema, or apply the migrations it lacks (safe to run again)."""
    from app.storage.admin import init_database
    from app.storage.url import mask_url

    applied, version = init_database(url)
    if applied:
        for m in applied:
            console.print(f"applied migration {m.version}: {m.description}")
    else:
        console.print("schema already up to date")
    console.print(f"{mask_url(url)}: schema version {version}")


@db_app.command("load")
def load_cmd(
    url: UrlOpt,
    scenario: ScenarioOpt = "growth_stall",
    merchant: MerchantOpt = "marcus_thompson",
    seed: SeedOpt = 0,
    stage: StageOpt = None,
    stress: StressOpt = None,
    subscribers: Annotated[
        int | None, typer.Option("--subscribers", help="World size (default: the merchant's baseline).")
    ] = None,
    replace: ReplaceOpt = False,
) -> None:
    """Store a synthetic world as a database exported on the scenario's today would hold it."""
    from app.cli.common import load_catalog
    from app.providers.loading import load_world

    report = load_world(
        url,
        scenario,
        merchant,
        seed=seed,
        stage=stage,
        stress=stress,
        subscribers=subscribers,
        replace=replace,
        progress=lambda m: err_console.print(m, highlight=False),
        catalog=load_catalog(),
    )
    _report(report)


@db_app.command("import")
def import_cmd(
    url: UrlOpt,
    orders: Annotated[Path, typer.Option("--orders", help="Orders export (CSV).")],
    mapping: Annotated[Path, typer.Option("--mapping", help="Mapping file (YAML, version 1 or 2), see docs/production.md and docs/import_mapping_v2.md.")],
    subscriptions: Annotated[Path | None, typer.Option("--subscriptions", help="Subscriptions export (CSV).")] = None,
    tickets: Annotated[Path | None, typer.Option("--tickets", help="Support tickets export (CSV).")] = None,
    customers: Annotated[Path | None, typer.Option("--customers", help="Customers export (CSV).")] = None,
    refunds: Annotated[
        Path | None, typer.Option("--refunds", help="Refunds export (CSV; version-2 mappings).")
    ] = None,
    rejects: Annotated[
        Path | None,
        typer.Option("--rejects", help="Write every rejected row here (CSV: file, line, table, reason, value, record)."),
    ] = None,
    max_errors: Annotated[
        int, typer.Option("--max-errors", min=0, help="Rejected rows tolerated (reported and skipped); default none.")
    ] = 0,
    replace: ReplaceOpt = False,
) -> None:
    """Import a merchant's CSV exports through a mapping file, in one transaction."""
    from app.storage.importer import import_exports

    files = {"orders": orders}
    given = (("subscriptions", subscriptions), ("support_tickets", tickets), ("customers", customers), ("refunds", refunds))
    for name, path in given:
        if path is not None:
            files[name] = path
    report = import_exports(
        url,
        files,
        mapping,
        max_errors=max_errors,
        replace=replace,
        progress=lambda m: _plain(err_console, m),
        rejects_path=rejects,
    )
    _report(report)
    if report.rejected:
        _plain(err_console, f"{report.rejected:,} row(s) rejected and not imported, by reason:\n{report.reject_summary}")
    if rejects is not None:
        _plain(err_console, f"rejected rows written to {rejects}")


@db_app.command("refresh")
def refresh_cmd(
    url: UrlOpt,
    as_of: Annotated[
        list[str] | None,
        typer.Option("--as-of", help="Also materialise customer facts for this date (repeatable)."),
    ] = None,
) -> None:
    """Recompute summary tables and customer facts from the base tables (after writing to them directly)."""
    from app.storage.admin import refresh_database

    dates = [d for d in (parse_date(x) for x in as_of or []) if d is not None]
    report = refresh_database(url, dates)
    console.print(f"refreshed {report.url} in {report.total_seconds:.1f}s")
    for name, n in report.rows.items():
        console.print(f"  {name}: {n:,} rows")
    console.print("customer facts materialised for " + (", ".join(map(str, report.facts_as_of)) or "no date (no data)"))
    for p in report.problems:
        console.print(f"  {p}")


def _fmt(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") + " UTC"
    return "n/a" if value is None else str(value)


@db_app.command("info")
def info_cmd(url: UrlOpt) -> None:
    """Schema version, row counts, date range and loads of a database."""
    from app.storage.admin import database_info

    info = database_info(url)
    console.print(f"[bold]{info['url']}[/] ({info['backend']})", highlight=False)
    console.print(f"schema version: {_fmt(info['schema_version'])} (this cjsim: {info['latest_schema_version']})")
    if "row_counts" in info:
        rng = info["date_range"]
        console.print(f"activity: {_fmt(rng['first'])} .. {_fmt(rng['last'])}; default as_of {_fmt(info['default_as_of'])}")
        console.print(f"last load: {_fmt(info['load_time'])}")
        last = info.get("last_import")
        if last is not None and last["accepted"] is not None:
            console.print(f"last import: {last['accepted']:,} rows accepted, {last['rejected']:,} rejected ({_fmt(last['loaded_at'])})")
        console.print("customer facts for: " + (", ".join(map(str, info["facts_as_of"])) or "none"))
        table = Table("table", "rows")
        for name, n in info["row_counts"].items():
            table.add_row(name, f"{n:,}")
        console.print(table)
        if info["loads"]:
            loads = Table("loaded at", "kind", "rows", "rejected", "source")
            for entry in info["loads"]:
                rejected = "" if entry["rejected"] is None else f"{entry['rejected']:,}"
                loads.add_row(
                    _fmt(entry["loaded_at"]), entry["kind"], f"{entry['rows']:,}", rejected, Text(entry["source"])
                )
            console.print(loads)
    if "problem" in info:
        from app.errors import ProviderError

        raise ProviderError(info["problem"])


@db_app.command("quality")
def quality_cmd(
    url: Annotated[
        str,
        typer.Option("--url", "--db-url", envvar=DB_URL_ENV, show_envvar=True, help="The database to check."),
    ],
    date: Annotated[
        str | None,
        typer.Option("--date", help="Check as of this day (default: the data's latest day); a later day shows staleness."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    fail_on_warning: Annotated[
        bool, typer.Option("--fail-on-warning", help="Exit with code 1 when the verdict is not ok (for CI).")
    ] = False,
) -> None:
    """Data-quality checks per table: completeness, validity, consistency, uniqueness, timeliness.

    Exit code 0 whatever the verdict (warnings are printed); with --fail-on-warning, 1 when the
    verdict is caveat or poor. Bad input (date, URL, database) exits with 2.
    """
    import json

    from app.providers.quality import database_quality

    result = database_quality(url, parse_date(date, "--date"))
    report = result.report
    if as_json:
        data = {"url": result.url, **report.model_dump(mode="json")}
        data["loads"] = [{"load_id": i, "as_of": d.isoformat(), "verdict": v} for i, d, v in result.loads]
        console.print_json(json.dumps(data))
    else:
        _quality_tables(result)
    if fail_on_warning and report.verdict != "ok":
        raise typer.Exit(1)


def _quality_tables(result) -> None:
    report = result.report
    _plain(console, f"data quality of {result.url} as of {report.as_of}: {report.verdict}")
    for dimension in ("completeness", "validity", "consistency", "uniqueness", "timeliness"):
        checks = [c for c in report.checks if c.dimension == dimension]
        if not checks:
            continue
        table = Table("table", "check", "pass", "failed", "examples", "level", title=dimension)
        for c in checks:
            passed = f"{c.ratio:.1%}" if c.ratio is not None else f"{c.age_days} days old"
            failed = f"{c.failed:,} of {c.total:,}" if c.ratio is not None else f"newest {c.newest}"
            table.add_row(c.table, Text(c.check), passed, failed, Text(", ".join(c.examples)), c.level)
        console.print(table)
    quiet = [f"{t} ({s})" for t, s in report.tables.items() if s != "checked"]
    if quiet:
        _plain(console, "not checked, no rows (not a failure): " + ", ".join(quiet))
    if result.loads:
        _plain(console, "stored per load: " + ", ".join(f"#{i} {d} {v}" for i, d, v in result.loads[-5:]))
    for reason in report.reasons:
        _plain(err_console, f"warning: {reason}")
