"""``cjsim core``: the universal core in an operations store - industries, template imports, generated worlds.

``industries`` lists the industry extensions (or shows one's attribute schema); ``import`` reads a
file through a mapping template and reports rows imported and rejected with their line and
reason; ``load-world`` writes a generated world into the core as retail. Writes go to ``--ops-url``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from app.cli import app
from app.cli.common import MerchantOpt, OpsUrlOpt, ScenarioOpt, SeedOpt, console
from app.cli.ops_cmds import JsonOpt
from app.cli.options import parse_date
from app.errors import InvalidArgumentError

__all__ = ["core_app"]

core_app = typer.Typer(
    no_args_is_help=True,
    help="The universal core (entities, interventions, exposures, outcomes, segments, lineage) in an operations store.",
)

app.add_typer(core_app, name="core")


def _store_url(ops_url: str | None, command: str) -> str:
    if not ops_url:
        raise InvalidArgumentError(f"cjsim core {command} writes to an operations store: pass --ops-url URL or set CJSIM_OPS_URL")
    return ops_url


@core_app.command("industries")
def industries_cmd(
    industry: Annotated[str | None, typer.Option("--industry", help="Show this industry's attribute schema.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The industry extensions: their outcome types, or one industry's attribute JSON Schema."""
    from app.core.industries import get_industry, industries

    if industry is not None:
        typer.echo(json.dumps(get_industry(industry).schema, indent=2))
        return
    known = industries()
    if as_json:
        typer.echo(json.dumps({n: {"title": i.title, "outcome_types": list(i.outcome_types),
                                   "attributes": sorted(i.schema.get("properties", {}))} for n, i in known.items()}, indent=2))
        return
    table = Table()
    for col in ("industry", "outcome types", "attributes"):
        table.add_column(col, overflow="fold")
    for name, ind in sorted(known.items()):
        table.add_row(name, ", ".join(ind.outcome_types), ", ".join(sorted(ind.schema.get("properties", {}))))
    console.print(table)


@core_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="The source file (CSV).")],
    template: Annotated[str, typer.Option("--template", "-t", help="A shipped template (retail, telecom) or a template file.")],
    ops_url: OpsUrlOpt = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="The day the data describes, YYYY-MM-DD (default: today, UTC).")] = None,
    rejects: Annotated[Path | None, typer.Option("--rejects", help="Write every rejected row to this CSV.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import FILE through a mapping template into the core, with lineage; rejected rows are reported with line and reason."""
    from app.core.importer import import_file
    from app.core.templates import get_template
    from app.storage.import_problems import RejectLog
    from app.storage.ops import OpsStore

    url = _store_url(ops_url, "import")
    day = parse_date(as_of, "--as-of") or dt.datetime.now(dt.UTC).date()
    tmpl = get_template(template)  # template and file problems are reported before the store is opened
    if not file.is_file():
        raise InvalidArgumentError(f"{file}: no such file")
    log = RejectLog(rejects)
    log.open()
    try:
        result = import_file(OpsStore.from_url(url), tmpl, file, as_of=day, log=log)
    finally:
        log.close()
    if as_json:
        reasons = [{"reason": r.reason, "count": r.count, "examples": [str(x) for x in r.examples]} for r in log.reasons.values()]
        typer.echo(json.dumps({"run_id": result.run_id, "read": result.read, "imported": result.imported,
                               "rejected": result.rejected, "outcomes": result.outcomes, "segments": result.segments,
                               "rejects": reasons}, indent=2))
        return
    console.print(
        f"import run {result.run_id}: read {result.read:,} record(s) of {escape(file.name)}, imported {result.imported:,} "
        f"as {escape(tmpl.industry)} entities ({result.outcomes:,} outcome(s), {result.segments} segment(s)), "
        f"rejected {result.rejected:,}",
        highlight=False,
    )
    if result.rejected:
        console.print(escape(log.summary()), highlight=False, soft_wrap=True)


@core_app.command("load-world")
def load_world_cmd(
    scenario: ScenarioOpt = "churn_spike",
    merchant: MerchantOpt = "sarah_chen",
    seed: SeedOpt = 0,
    ops_url: OpsUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate a world and write its customers, orders and refunds into the core as retail, with lineage."""
    from app.core.world_core import load_world_into_core
    from app.scenarios import get_persona, get_scenario
    from app.storage.ops import OpsStore

    url = _store_url(ops_url, "load-world")
    get_scenario(scenario), get_persona(merchant)  # unknown names are refused before the store is opened
    result = load_world_into_core(OpsStore.from_url(url), scenario, merchant, seed=seed)
    if as_json:
        typer.echo(json.dumps({"run_id": result.run_id, "as_of": result.as_of.isoformat(), "entities": result.entities,
                               "outcomes": result.outcomes, "segments": result.segments}, indent=2))
        return
    console.print(
        f"import run {result.run_id}: {result.entities:,} retail entities, {result.outcomes:,} outcomes and "
        f"{result.segments} segment(s) as of {result.as_of}", highlight=False,
    )
