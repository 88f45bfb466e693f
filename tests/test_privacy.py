"""Privacy requests on SQLite and PostgreSQL: erasure without a trace, access, correction, portability, retries.

Each backend gets one world: the source database of churn_spike/sarah_chen seed 0, an operations
store holding notes, alert statuses, the priority queue, the universal core (entities, outcomes,
lineage) and their audit rows, and a folder of transcripts of a real conversation that names the
customers (JSON, JSON Lines, Markdown) plus a text file with an email. Tests work on different
customers of the same world, so their order does not matter. The no-trace checks search with code
of their own (every column of every table as text, every file as bytes), not the library's search.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine, func, select
from typer.testing import CliRunner

from app.cli import app
from app.core.world_core import load_world_into_core
from app.errors import ActionFailedError, InvalidArgumentError, UnknownNameError
from app.governance import BUNDLE_FORMAT, EXPORT_FORMAT, get_request, list_requests, submit_request
from app.governance.privacy_search import subject_hash, value_hash
from app.providers.loading import load_world
from app.providers.production import ProductionDataProvider
from app.retention.queue import QUEUE_ACTION
from app.simulation import RunConfig, run_conversation
from app.storage.admin import init_database
from app.storage.migrations import stale_summaries
from app.storage.ops import OPS_MIGRATIONS, OpsStore
from app.storage.ops_privacy import privacy_requests
from app.storage.schema import customers, orders
from app.storage.url import make_engine
from app.views.actions import execute_action
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)

SCENARIO, MERCHANT, SEED = "churn_spike", "sarah_chen", 0
DAY = dt.date(2025, 4, 22)
NOW = dt.datetime(2025, 4, 23, 9, 0)
ERASED, FAILING, READ, CORRECTED, RETRIED = "C000987", "C000257", "C000378", "C000261", "C000274"
ERASED_EARLIER = "C000903"
runner = CliRunner()


@dataclass
class World:
    db: str
    ops: str
    store: OpsStore
    transcripts: Path


@pytest.fixture(scope="module")
def transcript() -> Any:
    """A real conversation that names the test's customers (CJ's deep dive into the riskiest ones)."""
    return run_conversation(RunConfig(scenario=SCENARIO, merchant=MERCHANT, workflow="customer_deep_dive", seed=SEED))


def _customer(db: str, customer_id: str) -> dict[str, Any]:
    engine = make_engine(db, read_only=True)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(select(customers).where(customers.c.customer_id == customer_id)).mappings().one())
    finally:
        engine.dispose()


def _build(db: str, ops: str, folder: Path, transcript: Any) -> World:
    init_database(db)
    load_world(db, SCENARIO, MERCHANT, seed=SEED)
    store = OpsStore.from_url(ops)
    provider = ProductionDataProvider(db, ops_url=ops, allow_writable_user=True)
    for cid in (ERASED, FAILING, READ, CORRECTED, RETRIED):
        name = _customer(db, cid)["name"]
        execute_action(store, "save_note", {"note": f"{name} prefers email", "customer_id": cid}, day=DAY,
                       approval="approved", actor="test", now=NOW)
        execute_action(store, "acknowledge_alert", {"alert_id": f"HA-20250422-{cid}-churn_risk"}, day=DAY,
                       approval="approved", actor="test", now=NOW, provider=provider)
    execute_action(store, "save_note", {"note": f"call {ERASED} back about the refill"}, day=DAY,
                   approval="approved", actor="test", now=NOW)  # a mention outside any customer column
    execute_action(store, QUEUE_ACTION, {}, day=DAY, approval="approved", actor="test", now=NOW, provider=provider)
    load_world_into_core(store, SCENARIO, MERCHANT, seed=SEED, now=NOW)
    runs = folder / "transcripts" / "run-1"
    runs.mkdir(parents=True)
    (runs / "transcript.json").write_text(transcript.to_json(), encoding="utf-8")
    (runs / "transcripts.jsonl").write_text(json.dumps(transcript.to_openai()) + "\n", encoding="utf-8")
    (runs / "transcript.md").write_text(transcript.to_markdown(), encoding="utf-8")
    emails = "\n".join(f"follow up: {_customer(db, c)['email']}" for c in (ERASED, FAILING, READ))
    (folder / "transcripts" / "follow_ups.txt").write_text(emails + "\n", encoding="utf-8")
    return World(db, ops, store, folder / "transcripts")


@pytest.fixture(scope="module")
def sqlite_world(tmp_path_factory, transcript) -> World:
    folder = tmp_path_factory.mktemp("privacy")
    return _build(f"sqlite:///{folder / 'shop.db'}", f"sqlite:///{folder / 'ops.db'}", folder, transcript)


@pytest.fixture(scope="module")
def pg_world(tmp_path_factory, transcript, pg_schemas) -> World:  # noqa: F811
    folder = tmp_path_factory.mktemp("privacy_pg")
    return _build(pg_schemas.new("privacy_src"), pg_schemas.new("privacy_ops"), folder, transcript)


@pytest.fixture(params=["sqlite", "postgres"])
def world(request) -> World:
    return request.getfixturevalue("sqlite_world" if request.param == "sqlite" else "pg_world")


# --------------------------------------------------------------------------- an independent search


def _db_traces(url: str, needles: list[str]) -> dict[str, int]:
    """``table`` -> rows where any column, as text, contains a needle (case-insensitive)."""
    engine = create_engine(url)
    low = [n.lower() for n in needles]
    found: dict[str, int] = {}
    try:
        with engine.connect() as conn:
            md = MetaData()
            md.reflect(conn)
            for name, table in sorted(md.tables.items()):
                for row in conn.execute(select(table)):
                    text = " ".join(json.dumps(v, default=str, ensure_ascii=False) for v in row).lower()
                    if any(n in text for n in low):
                        found[name] = found.get(name, 0) + 1
    finally:
        engine.dispose()
    return found


def _file_traces(folder: Path, needles: list[str]) -> list[str]:
    low = [n.lower().encode() for n in needles]
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and any(n in p.read_bytes().lower() for n in low))


def _needles(world: World, customer_id: str) -> list[str]:
    row = _customer(world.db, customer_id)
    return [customer_id, row["email"], row["name"]]


def _totals(url: str) -> tuple[int, int, int]:
    engine = make_engine(url, read_only=True)
    try:
        with engine.connect() as conn:
            return (conn.execute(select(func.count()).select_from(customers)).scalar_one(),
                    conn.execute(select(func.count()).select_from(orders)).scalar_one(),
                    conn.execute(select(func.sum(orders.c.amount_cents))).scalar_one())
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- tests


def test_migration_8_creates_the_privacy_table(world: World) -> None:
    assert world.store.version == OPS_MIGRATIONS[-1].version >= 8
    assert any(m.version == 8 and privacy_requests in m.tables for m in OPS_MIGRATIONS)


def test_deletion_leaves_no_trace_in_any_table_or_transcript(world: World) -> None:
    needles = _needles(world, ERASED)
    before_src, before_ops = _db_traces(world.db, needles), _db_traces(world.ops, needles)
    # the world really holds the customer everywhere the deletion must reach (so this test can fail)
    assert {"customers", "orders", "subscriptions", "customer_facts", "customer_health"} <= set(before_src)
    assert {"ops_notes", "ops_alert_status", "ops_action_audit", "core_entities", "core_lineage"} <= set(before_ops)
    assert len(_file_traces(world.transcripts, needles)) == 4
    totals = _totals(world.db)

    out = submit_request(world.db, world.store, request_type="deletion", customer_id=ERASED, regulation="gdpr",
                         requested_by="dpo@example.com", confirmed=True, transcripts=world.transcripts, now=NOW)

    assert out.status == "succeeded" and out.record.status == "completed" and out.record.summary["name_searched"]
    assert out.record.verification is not None and out.record.verification["traces"] == []
    assert out.record.verification["files"] >= 4 and out.record.verification["source_tables"] >= 20
    assert _db_traces(world.db, needles) == {} and _db_traces(world.ops, needles) == {}
    assert _file_traces(world.transcripts, needles) == []
    # the rows are kept anonymised: every aggregate still adds up, and the summaries are not stale
    assert _totals(world.db) == totals
    engine = make_engine(world.db, read_only=True)
    with engine.connect() as conn:
        assert stale_summaries(conn) is None
    engine.dispose()
    for path in world.transcripts.rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))  # redacted files stay valid JSON
    # the record and its audit row identify the subject by hash only
    assert out.record.subject_hash == subject_hash(ERASED)
    audit = world.store.audit("privacy_request")[-1]
    assert audit.status == "succeeded" and audit.arguments["subject_sha256"] == subject_hash(ERASED)


def test_deletion_reaches_the_audience_exports_the_operations_store_records(world: World, monkeypatch) -> None:
    monkeypatch.chdir(world.transcripts.parent)  # exports are written, and recorded, relative to the working folder
    provider = ProductionDataProvider(world.db, ops_url=world.ops, allow_writable_user=True)
    export = execute_action(world.store, "export_audience", {"tier": "P2"}, day=DAY, approval="approved",
                            actor="test", now=NOW, provider=provider)
    path = Path(export.result["path"])
    exported = next(csv.DictReader(path.open(encoding="utf-8")))["customer_id"]
    out = submit_request(world.db, world.store, request_type="deletion", customer_id=exported, regulation="gdpr",
                         requested_by="dpo", confirmed=True, now=NOW)  # no --transcripts: the store names the file
    assert out.record.verification["traces"] == [] and out.record.verification["files"] >= 1
    assert exported not in path.read_text(encoding="utf-8") and out.record.summary["files_redacted"] >= 1


def test_a_trace_left_behind_fails_the_deletion_loudly_and_a_rerun_finishes_it(world: World) -> None:
    needles = _needles(world, FAILING)
    stuck = world.transcripts / "archive.bin"
    stuck.write_bytes(b"\xff\xfe binary export " + FAILING.encode() + b"\x00")  # not text: cannot be redacted
    with pytest.raises(ActionFailedError, match=r"deletion left 1 trace\(s\) of the customer: file archive.bin \(binary\)"):
        submit_request(world.db, world.store, request_type="deletion", customer_id=FAILING, regulation="ccpa",
                       requested_by="dpo", confirmed=True, transcripts=world.transcripts, now=NOW)
    failed = [r for r in list_requests(world.store, "failed") if r.subject_hash == subject_hash(FAILING)]
    assert len(failed) == 1 and failed[0].verification["traces"] == [{"where": "file archive.bin (binary)", "matches": 1}]
    assert world.store.audit("privacy_request")[-1].status == "failed"
    stuck.unlink()
    again = submit_request(world.db, world.store, request_type="deletion", customer_id=FAILING, regulation="ccpa",
                           requested_by="dpo", confirmed=True, transcripts=world.transcripts, now=NOW)
    assert again.status == "succeeded" and again.record.verification["traces"] == []
    assert _db_traces(world.db, needles[:1]) == {} and _db_traces(world.ops, needles[:1]) == {}


def test_access_export_holds_the_customer_rows_of_each_store_and_the_transcripts(world: World, tmp_path: Path) -> None:
    out_file = tmp_path / "access.json"
    out = submit_request(world.db, world.store, request_type="access", customer_id=READ, regulation="gdpr",
                         requested_by="dpo", transcripts=world.transcripts, out=out_file, now=NOW)
    doc = json.loads(out_file.read_text(encoding="utf-8"))
    assert doc["format"] == EXPORT_FORMAT and doc["request_id"] == out.record.request_id
    assert doc["subject"]["customer_id"] == READ
    source, ops = doc["stores"]["source"], doc["stores"]["operations"]
    assert [r["customer_id"] for r in source["customers"]] == [READ]
    for table in ("orders", "subscriptions", "support_tickets", "customer_facts", "customer_health"):
        assert source[table] and all(r["customer_id"] == READ for r in source[table]), table
    assert [r["customer_id"] for r in ops["ops_notes"]] == [READ]
    assert [r["customer_id"] for r in ops["ops_alert_status"]] == [READ]
    assert [r["external_id"] for r in ops["core_entities"]] == [READ]
    entity = ops["core_entities"][0]["entity_id"]
    assert ops["core_outcomes"] and all(r["entity_id"] == entity for r in ops["core_outcomes"])
    assert ops["core_lineage"]
    files = {f["file"]: f for f in doc["files"]}
    assert {"run-1/transcript.json", "run-1/transcripts.jsonl", "run-1/transcript.md", "follow_ups.txt"} <= set(files)
    assert all(READ in m["text"] or doc["subject"]["name"] in m["text"] or doc["subject"]["email"] in m["text"]
               for f in files.values() for m in f["mentions"])
    assert out.record.summary["rows"]["source.orders"] == len(source["orders"])
    # nothing about the request itself names the person
    assert _db_traces(world.ops, [READ]).get(privacy_requests.name) is None


def test_correction_changes_the_fields_and_keeps_only_hashes_of_personal_values(world: World) -> None:
    old = _customer(world.db, CORRECTED)
    out = submit_request(world.db, world.store, request_type="correction", customer_id=CORRECTED, regulation="gdpr",
                         requested_by="dpo", changes={"email": "connor@new.example", "country": "gb"}, now=NOW)
    new = _customer(world.db, CORRECTED)
    assert (new["email"], new["country"]) == ("connor@new.example", "GB") and new["name"] == old["name"]
    changed = out.record.summary["changed"]
    assert changed["email"] == {"before_sha256": value_hash(old["email"]), "after_sha256": value_hash("connor@new.example"),
                                "changed": True}
    assert changed["country"] == {"before": old["country"], "after": "GB", "changed": old["country"] != "GB"}
    audit = world.store.audit("privacy_request")[-1]
    assert audit.status == "succeeded" and audit.arguments["fields"] == ["country", "email"]
    assert audit.result == {"request_id": out.record.request_id, "status": "completed"}
    # neither value is stored with the request or in the audit trail
    traces = _db_traces(world.ops, [old["email"], "connor@new.example"])
    assert privacy_requests.name not in traces and "ops_action_audit" not in traces


def test_portability_bundle_is_a_documented_zip_of_csv_files(world: World, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.zip"
    out = submit_request(world.db, world.store, request_type="portability", customer_id=READ, regulation="uk_gdpr",
                         requested_by="dpo", out=bundle, now=NOW)
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["format"] == BUNDLE_FORMAT and manifest["customer_id"] == READ
        assert names == ["manifest.json", *(f["path"] for f in manifest["files"])]
        assert {"customers.csv", "orders.csv", "subscriptions.csv", "support_tickets.csv"} <= set(names)
        assert "customer_facts.csv" not in names  # derived data is in the access export, not the portable set
        for f in manifest["files"]:
            rows = list(csv.DictReader(io.StringIO(zf.read(f["path"]).decode("utf-8"))))
            assert len(rows) == f["rows"] and sorted(rows[0]) == f["columns"]
            assert {r["customer_id"] for r in rows} == {READ}
        assert all(i.date_time == (2000, 1, 1, 0, 0, 0) for i in zf.infolist())  # bytes depend on content only
    assert out.record.output_path == str(bundle)


def test_a_retried_request_does_not_run_twice(world: World, tmp_path: Path) -> None:
    args = {"request_type": "correction", "customer_id": RETRIED, "regulation": "gdpr", "requested_by": "dpo",
            "changes": {"segment_hint": "vip"}, "now": NOW}
    first = submit_request(world.db, world.store, **args)
    second = submit_request(world.db, world.store, **args)
    assert (first.status, second.status) == ("succeeded", "duplicate")
    assert second.record.request_id == first.record.request_id
    mine = [r for r in list_requests(world.store)
            if r.subject_hash == subject_hash(RETRIED) and r.request_type == "correction"]
    assert [r.status for r in mine] == ["completed"]
    statuses = [a.status for a in world.store.audit("privacy_request")
                if a.arguments["subject_sha256"] == subject_hash(RETRIED) and a.arguments["request_type"] == "correction"]
    assert statuses == ["succeeded", "duplicate"]
    dup = world.store.audit("privacy_request")[-1]
    assert dup.original_audit_id == first.audit_id
    # an access retried on the same day writes nothing again
    target = tmp_path / "again.json"
    submit_request(world.db, world.store, request_type="access", customer_id=RETRIED, regulation="gdpr",
                   requested_by="dpo", out=tmp_path / "first.json", now=NOW)
    assert submit_request(world.db, world.store, request_type="access", customer_id=RETRIED, regulation="gdpr",
                          requested_by="dpo", out=target, now=NOW).status == "duplicate"
    assert not target.exists()


def test_an_identical_request_finishing_second_is_audited_as_a_duplicate(world: World, monkeypatch) -> None:
    import app.governance.privacy as privacy

    args = {"request_type": "access", "customer_id": READ, "regulation": "hipaa", "requested_by": "dpo", "now": NOW}
    first = submit_request(world.db, world.store, **args)
    monkeypatch.setattr(privacy, "_find_duplicate", lambda *a, **k: None)  # it started before the first finished
    second = submit_request(world.db, world.store, **args)
    assert second.record.request_id != first.record.request_id and second.record.status == "completed"
    audits = [a for a in world.store.audit("privacy_request") if a.audit_id in (first.audit_id, second.audit_id)]
    assert [(a.status, a.original_audit_id) for a in audits] == [("succeeded", None), ("duplicate", first.audit_id)]


def test_an_erased_customer_is_not_erased_again_on_a_later_day(world: World) -> None:
    first = submit_request(world.db, world.store, request_type="deletion", customer_id=ERASED_EARLIER, regulation="gdpr",
                           requested_by="dpo", confirmed=True, now=NOW)
    again = submit_request(world.db, world.store, request_type="deletion", customer_id=ERASED_EARLIER, regulation="gdpr",
                           requested_by="dpo", confirmed=True, now=NOW + dt.timedelta(days=30))
    assert (first.status, again.status) == ("succeeded", "duplicate")
    assert again.record.request_id == first.record.request_id


def test_bad_input_is_refused_before_anything_runs(world: World) -> None:
    base = {"customer_id": READ, "requested_by": "dpo", "now": NOW}
    with pytest.raises(UnknownNameError, match="unknown request type 'erase'; valid request types: access"):
        submit_request(world.db, world.store, request_type="erase", regulation="gdpr", **base)
    with pytest.raises(UnknownNameError, match="unknown regulation 'pdpa'"):
        submit_request(world.db, world.store, request_type="access", regulation="pdpa", **base)
    with pytest.raises(InvalidArgumentError, match="pass --yes"):
        submit_request(world.db, world.store, request_type="deletion", regulation="gdpr", **base)
    with pytest.raises(InvalidArgumentError, match="'customer_id' cannot be corrected"):
        submit_request(world.db, world.store, request_type="correction", regulation="gdpr",
                       changes={"customer_id": "X"}, **base)
    assert _customer(world.db, READ)["customer_id"] == READ
    before = len(list_requests(world.store))
    with pytest.raises(InvalidArgumentError, match="no customer 'NOPE'"):
        submit_request(world.db, world.store, request_type="access", regulation="gdpr", customer_id="NOPE",
                       requested_by="dpo", now=NOW)
    rejected = list_requests(world.store)[before:]
    assert [(r.status, r.subject_hash) for r in rejected] == [("rejected", subject_hash("NOPE"))]


# --------------------------------------------------------------------------- the command line


def test_cli_runs_lists_and_shows_requests(sqlite_world: World, tmp_path: Path) -> None:
    w = sqlite_world
    common = ["--db-url", w.db, "--ops-url", w.ops]
    refused = runner.invoke(app, ["privacy", "request", "--type", "deletion", "--customer", RETRIED, *common])
    assert refused.exit_code == 2 and "pass --yes" in " ".join(refused.output.split())
    assert _customer(w.db, RETRIED)["customer_id"] == RETRIED  # nothing was erased
    out = tmp_path / "export.json"
    done = runner.invoke(app, ["privacy", "request", "--type", "access", "--customer", RETRIED, "--regulation", "ccpa",
                               "--out", str(out), "--by", "privacy-team", *common])
    assert done.exit_code == 0, done.output
    assert "completed" in done.output and json.loads(out.read_text())["regulation"] == "ccpa"
    listed = runner.invoke(app, ["privacy", "list", "--ops-url", w.ops, "--json"])
    rows = json.loads(listed.stdout)
    assert rows[-1]["regulation"] == "ccpa" and rows[-1]["requested_by"] == "privacy-team"
    shown = runner.invoke(app, ["privacy", "show", str(rows[-1]["request_id"]), "--ops-url", w.ops, "--json"])
    assert json.loads(shown.stdout)["status"] == "completed"
    assert get_request(w.store, rows[-1]["request_id"]).processed_by == "cli"
    printed = runner.invoke(app, ["privacy", "request", "--type", "access", "--customer", READ, "--regulation", "lgpd", *common])
    assert printed.exit_code == 0 and json.loads(printed.stdout)["subject"]["customer_id"] == READ
