"""``cjsim privacy``: privacy requests (access, deletion, correction, portability) and their records.

``request`` runs one request against the source database (``--db-url``), the operations store
(``--ops-url``, where the request and its audit row are kept) and a folder of transcripts
(``--transcripts``); ``list`` and ``show`` read the recorded requests. A deletion is the one command
that writes to the source database, and only with ``--yes``. See docs/governance.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from app.cli import app
from app.cli.common import DbUrlOpt, OpsUrlOpt, console
from app.cli.ops_cmds import JsonOpt
from app.errors import InvalidArgumentError

__all__ = ["privacy_app"]

privacy_app = typer.Typer(
    no_args_is_help=True,
    help="Privacy requests: access, deletion (erasure), correction and portability, recorded and audited.",
)

app.add_typer(privacy_app, name="privacy")


def _ops_url(ops_url: str | None) -> str:
    if not ops_url:
        raise InvalidArgumentError("privacy requests are kept in an operations store: pass --ops-url URL or set CJSIM_OPS_URL")
    return ops_url


def _parse_set(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq or not name.strip():
            raise InvalidArgumentError(f"--set {pair!r}: use --set field=value, e.g. --set email=new@example.com")
        out[name.strip()] = value
    return out


def _line(outcome: Any) -> str:
    r = outcome.record
    head = f"privacy request {r.request_id} ({r.request_type}, {r.regulation})"
    if outcome.status == "duplicate":
        return f"{head} already ran ({r.status}); this retry did nothing"
    s = r.summary or {}
    if r.request_type == "deletion":
        v = r.verification or {}
        return (f"{head}: completed - rows anonymised in {len(s.get('anonymised', {}))} table(s), deleted in "
                f"{len(s.get('deleted', {}))}, {s.get('files_redacted', 0)} file(s) redacted; verified: "
                f"{v.get('source_tables', 0)} source and {v.get('operations_tables', 0)} operations tables and "
                f"{v.get('files', 0)} file(s) searched, no trace left")
    if r.request_type == "correction":
        return f"{head}: completed - corrected {', '.join(s.get('changed', {}))}"
    rows = sum(s.get("rows", {}).values())
    where = f" to {r.output_path}" if r.output_path else ""
    return f"{head}: completed - {rows} row(s) from {len(s.get('rows', {}))} table(s) exported{where}"


@privacy_app.command("request")
def request_cmd(
    request_type: Annotated[str, typer.Option("--type", help="access, deletion, correction or portability.")],
    customer: Annotated[str, typer.Option("--customer", help="The customer id the request is about.")],
    regulation: Annotated[str, typer.Option("--regulation", help="gdpr, uk_gdpr, ccpa, lgpd or hipaa.")] = "gdpr",
    db_url: DbUrlOpt = None,
    ops_url: OpsUrlOpt = None,
    transcripts: Annotated[Path | None, typer.Option(
        "--transcripts", help="A folder of transcripts (and other files) to search, export from and redact.")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="A correction: field=value (name, email, country, segment_hint); repeat for more.")] = None,
    identifier: Annotated[list[str] | None, typer.Option(
        "--identifier", help="Another identifier of the person (an id in another system, a former email); repeatable.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Access: write the JSON export here (default: print it). Portability: the bundle (.zip).")] = None,
    requested_by: Annotated[str, typer.Option("--by", help="Who filed the request (recorded).")] = "cli",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Confirm a deletion (it cannot be undone).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run one privacy request; a retry of a request that already ran does nothing."""
    from app.governance import check_request, submit_request
    from app.storage.ops import OpsStore

    changes = _parse_set(set_ or [])
    check_request(request_type, regulation, changes or None, yes, transcripts, out)  # before any store is opened
    if not db_url:
        raise InvalidArgumentError("privacy requests read the source database: pass --db-url URL or set CJSIM_DB_URL")
    store = OpsStore.from_url(_ops_url(ops_url))
    outcome = submit_request(
        db_url, store, request_type=request_type, customer_id=customer, regulation=regulation,
        requested_by=requested_by, processed_by="cli", changes=changes or None, extra_ids=tuple(identifier or ()),
        confirmed=yes, transcripts=transcripts, out=out,
    )  # fmt: skip
    if request_type == "access" and out is None and outcome.document is not None:
        from app.governance.privacy_data import write_json

        typer.echo(write_json(outcome.document, None), nl=False)
        return
    if as_json:
        typer.echo(json.dumps({"status": outcome.status, "audit_id": outcome.audit_id, **outcome.record.to_json()}, indent=2))
        return
    console.print(escape(_line(outcome)), highlight=False, soft_wrap=True)


@privacy_app.command("list")
def list_cmd(
    ops_url: OpsUrlOpt = None,
    status: Annotated[str | None, typer.Option("--status", help="Only requests with this status.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The privacy requests recorded in the operations store, oldest first."""
    from app.errors import UnknownNameError
    from app.governance import REQUEST_STATUSES, list_requests
    from app.storage.ops import OpsStore

    if status is not None and status not in REQUEST_STATUSES:
        raise UnknownNameError("status", status, REQUEST_STATUSES)
    records = list_requests(OpsStore.from_url(_ops_url(ops_url)), status)
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in records], indent=2))
        return
    if not records:
        console.print("no privacy requests", highlight=False)
        return
    table = Table()
    for col in ("id", "type", "regulation", "status", "requested", "completed", "by", "subject (sha256)"):
        table.add_column(col, overflow="fold")
    for r in records:
        table.add_row(str(r.request_id), r.request_type, r.regulation, r.status, r.requested_at.isoformat(sep=" "),
                      r.completed_at.isoformat(sep=" ") if r.completed_at else "", escape(r.requested_by),
                      r.subject_hash[:12])
    console.print(table)


@privacy_app.command("show")
def show_cmd(
    request_id: Annotated[int, typer.Argument(help="The request's id (cjsim privacy list).")],
    ops_url: OpsUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One privacy request: its record, summary and (for a deletion) verification."""
    from app.governance import get_request
    from app.storage.ops import OpsStore

    record = get_request(OpsStore.from_url(_ops_url(ops_url)), request_id)
    payload = record.to_json()
    if as_json:
        typer.echo(json.dumps(payload, indent=2))
        return
    for key, value in payload.items():
        text = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)
        console.print(f"{key}: {escape(text)}", highlight=False, soft_wrap=True)
