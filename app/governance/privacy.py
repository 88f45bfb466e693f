"""Privacy requests: access, deletion (erasure), correction and portability, recorded and audited.

:func:`submit_request` runs one request end to end. It is recorded in ``ops_privacy_requests``
(received -> in_progress -> completed | rejected | failed) and audited in the action audit trail as
``privacy_request``, with the same idempotency rule as every action: a request with the same content
on the same day that already succeeded is not run again (its audit row says ``duplicate`` and the
first request is returned); a deletion of a person already erased is a duplicate on any day.

Neither the request row nor its audit row holds the person's identifiers: the subject is a hash of
the customer id, a correction keeps field names and hashes of personal values. So after an erasure
the verification search of every table of both stores, and of the transcript files, can require
that nothing at all mentions the person; it records what it searched and fails the request loudly
if a trace is left.

Example:
    >>> import tempfile, pathlib
    >>> from app.providers.loading import load_world
    >>> from app.storage.admin import init_database
    >>> from app.storage.ops import OpsStore
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> url = f"sqlite:///{folder / 'shop.db'}"
    >>> _ = init_database(url); _ = load_world(url, "churn_spike", "sarah_chen", seed=0)
    >>> store = OpsStore.from_url(f"sqlite:///{folder / 'ops.db'}")
    >>> out = submit_request(url, store, request_type="deletion", customer_id="C000987",
    ...                      regulation="gdpr", requested_by="dpo@shop.example", confirmed=True)
    >>> out.status, out.record.status, out.record.verification["traces"]
    ('succeeded', 'completed', [])
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.errors import ActionFailedError, CJSimError, InvalidArgumentError, UnknownNameError
from app.governance.privacy_data import (
    Erasure,
    Subject,
    access_document,
    check_changes,
    correct_source,
    entity_ids,
    erase_operations,
    erase_source,
    find_subject,
    write_bundle,
    write_json,
)
from app.governance.privacy_search import (
    Matcher,
    files_of,
    recorded_files,
    redact_files,
    scan_files,
    subject_hash,
    trace_counts,
    value_hash,
)
from app.storage.admin import writable_connection
from app.storage.migrations import check_schema
from app.storage.ops import OpsStore, inserted_id
from app.storage.ops_privacy import REGULATIONS, REQUEST_TYPES, privacy_requests
from app.storage.url import connection_error, make_engine, mask_url, parse_url

__all__ = [
    "AUDIT_ACTION", "PrivacyRecord", "PrivacyOutcome", "check_request", "submit_request", "list_requests", "get_request",
]

AUDIT_ACTION = "privacy_request"
"""The action name of privacy requests in ``ops_action_audit``."""


@dataclass(frozen=True)
class PrivacyRecord:
    """One row of ``ops_privacy_requests`` (JSON columns parsed)."""

    request_id: int
    request_type: str
    regulation: str
    subject_hash: str
    status: str
    day: dt.date
    requested_at: dt.datetime
    completed_at: dt.datetime | None
    requested_by: str
    processed_by: str
    summary: dict[str, Any] | None
    verification: dict[str, Any] | None
    output_path: str | None
    error: str | None
    audit_id: int | None

    def to_json(self) -> dict[str, Any]:
        """The record as plain JSON values."""
        out = dict(self.__dict__)
        out["day"] = self.day.isoformat()
        out["requested_at"] = self.requested_at.isoformat()
        out["completed_at"] = self.completed_at.isoformat() if self.completed_at else None
        return out


@dataclass(frozen=True)
class PrivacyOutcome:
    """How a submission ended: ``succeeded`` (it ran) or ``duplicate`` (an earlier identical request
    had run; ``record`` is that request). ``document`` is the access export (access requests only)."""

    status: Literal["succeeded", "duplicate"]
    record: PrivacyRecord
    audit_id: int
    document: dict[str, Any] | None = None


def _record(row: Any) -> PrivacyRecord:
    def parse(v: Any) -> Any:
        return json.loads(v) if v else None

    def when(v: Any) -> Any:
        return v if v is None or isinstance(v, dt.datetime) else dt.datetime.fromisoformat(str(v))

    day = row["day"]
    return PrivacyRecord(
        request_id=row["request_id"], request_type=row["request_type"], regulation=row["regulation"],
        subject_hash=row["subject_hash"], status=row["status"],
        day=day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)),
        requested_at=when(row["requested_at"]), completed_at=when(row["completed_at"]),
        requested_by=row["requested_by"], processed_by=row["processed_by"], summary=parse(row["summary"]),
        verification=parse(row["verification"]), output_path=row["output_path"], error=row["error"],
        audit_id=row["audit_id"],
    )  # fmt: skip


def list_requests(store: OpsStore, status: str | None = None) -> list[PrivacyRecord]:
    """Every privacy request of the store, oldest first (optionally of one status)."""
    stmt = select(privacy_requests).order_by(privacy_requests.c.request_id)
    if status:
        stmt = stmt.where(privacy_requests.c.status == status)
    return [_record(r) for r in store.read(lambda conn: list(conn.execute(stmt).mappings()))]


def get_request(store: OpsStore, request_id: int) -> PrivacyRecord:
    """One privacy request by id.

    Raises:
        InvalidArgumentError: no request has that id.
    """
    stmt = select(privacy_requests).where(privacy_requests.c.request_id == request_id)
    row = store.read(lambda conn: conn.execute(stmt).mappings().first())
    if row is None:
        raise InvalidArgumentError(f"no privacy request {request_id} in operations store {store.display}; "
                                   "`cjsim privacy list` shows the requests")
    return _record(row)


def check_request(request_type: str, regulation: str, changes: Mapping[str, str] | None, confirmed: bool,
                  transcripts: Path | None, out: Path | None) -> dict[str, str]:
    """Refuse bad input before any store is opened; returns the validated correction values.

    Raises:
        UnknownNameError: unknown request type or regulation.
        InvalidArgumentError: bad correction fields, an unconfirmed deletion, a portability request
            without an output file (or a deletion or correction with one), a transcripts folder that
            does not exist.
    """
    if request_type not in REQUEST_TYPES:
        raise UnknownNameError("request type", request_type, REQUEST_TYPES)
    if regulation not in REGULATIONS:
        raise UnknownNameError("regulation", regulation, REGULATIONS)
    if request_type == "correction":
        fixed = check_changes(changes or {})
    elif changes:
        raise InvalidArgumentError(f"--set is for corrections; a {request_type} request changes no field")
    else:
        fixed = {}
    if request_type == "deletion" and not confirmed:
        raise InvalidArgumentError(
            "a deletion erases the customer from the source database, the operations store and the transcripts, "
            "and cannot be undone; pass --yes to confirm it (confirmed=True in the library)")
    if request_type in ("deletion", "correction") and out is not None:
        raise InvalidArgumentError(f"--out is for access and portability requests; a {request_type} writes no export")
    if request_type == "portability" and out is None:
        raise InvalidArgumentError("a portability request writes a bundle: pass --out FILE.zip")
    if transcripts is not None and not transcripts.is_dir():
        raise InvalidArgumentError(f"--transcripts {transcripts}: no such folder")
    return fixed


def _key(request_type: str, regulation: str, subject: str, changes: Mapping[str, str], extra: tuple[str, ...]) -> str:
    content = {"type": request_type, "regulation": regulation, "subject": subject,
               "set": {k: value_hash(v) for k, v in sorted(changes.items())},
               "extra_ids": sorted(hashlib.sha256(e.encode()).hexdigest() for e in extra)}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


@contextmanager
def _source(url: str, write: bool) -> Iterator[Connection]:
    """A transaction on the source database: writable for deletions and corrections, else read-only."""
    if write:
        with writable_connection(url) as conn:
            yield conn
        return
    parsed = parse_url(url)
    display = mask_url(parsed)
    engine = make_engine(parsed, read_only=True)
    try:
        with engine.connect() as conn:
            check_schema(conn, display)
            yield conn
    except SQLAlchemyError as exc:
        raise connection_error(exc, display) from None
    finally:
        engine.dispose()


def submit_request(
    source_url: str,
    store: OpsStore,
    *,
    request_type: str,
    customer_id: str,
    regulation: str,
    requested_by: str,
    processed_by: str = "library",
    changes: Mapping[str, str] | None = None,
    extra_ids: tuple[str, ...] = (),
    confirmed: bool = False,
    transcripts: Path | None = None,
    out: Path | None = None,
    now: dt.datetime | None = None,
) -> PrivacyOutcome:
    """Run one privacy request, recorded and audited (see the module docstring).

    Args:
        source_url: the source database (the merchant's customers, orders, ...).
        store: the operations store (where the request and its audit row are kept).
        request_type: access, deletion, correction or portability.
        customer_id: the customer the request is about.
        regulation: what it is filed under (gdpr, uk_gdpr, ccpa, lgpd, hipaa).
        requested_by: who filed it.
        processed_by: what processed it (cli, library, ...).
        changes: a correction's field -> new value (name, email, country, segment_hint).
        extra_ids: more identifiers of the person (ids in other systems, former emails) to search and erase.
        confirmed: a deletion runs only when confirmed.
        transcripts: a folder of transcripts (and any other files) to search, export and redact.
        out: where an access export (JSON) or a portability bundle (zip) is written.
        now: the request's clock (default: wall clock, UTC).

    Raises:
        UnknownNameError: unknown request type or regulation.
        InvalidArgumentError: bad input (correction fields, unconfirmed deletion, missing folder,
            unknown customer: the request is then recorded as ``rejected``).
        ProviderError: a database cannot be reached or has the wrong schema.
        ActionFailedError: the request failed while running, or a deletion left a trace (recorded
            as ``failed`` with the verification; running it again resumes the erasure).
    """
    fixed = check_request(request_type, regulation, changes, confirmed, transcripts, out)
    extra = tuple(e.strip() for e in extra_ids if e.strip())
    at = (now or dt.datetime.now(dt.UTC)).replace(tzinfo=None, microsecond=0)
    subject_h = subject_hash(customer_id)
    key = _key(request_type, regulation, subject_h, fixed, extra)
    record: dict[str, Any] = {"action": AUDIT_ACTION, "day": at.date(), "idempotency_key": key, "approval": "not_required",
              "actor": requested_by, "conversation": None, "requested_at": at,
              "arguments": {"request_type": request_type, "regulation": regulation, "subject_sha256": subject_h,
                            "fields": sorted(fixed), "extra_ids": len(extra)}}
    started = time.perf_counter()
    duplicate = _find_duplicate(store, record, request_type, subject_h, started)
    if duplicate is not None:
        return duplicate
    meta: dict[str, Any] = {"request_type": request_type, "regulation": regulation, "generated_at": at.isoformat()}
    with _source(source_url, write=request_type == "correction") as src:
        subject = find_subject(src, customer_id, extra)
        if subject is None:
            subject = _resume_erasure(store, request_type, subject_h, customer_id, extra)
        if subject is None:
            _reject(store, record, request_type, regulation, subject_h, requested_by, processed_by, at, started)
            shown = mask_url(source_url)
            raise InvalidArgumentError(f"no customer {customer_id!r} in {shown}; check the id "
                                       f"(`cjsim data customer_list --provider production --db-url {shown}` lists them)")
        found = subject
        subject = Subject(found.customer_id, found.email, found.name, found.extra_ids, found.name_shared,
                          store.read(lambda conn: entity_ids(conn, found)))
        request_id = _open(store, request_type, regulation, subject_h, key, requested_by, processed_by, at)
        meta["request_id"] = request_id
        summary: dict[str, Any] = {}
        verification: dict[str, Any] | None = None
        doc: dict[str, Any] | None = None
        try:
            if request_type != "deletion":  # the erasure writes in transactions of its own, below
                summary, doc = _read_or_correct(src, store, request_type, subject, fixed, transcripts, out, meta)
        except Exception as exc:
            _failed(store, record, request_id, request_type, exc, started)
    if request_type == "deletion":
        try:
            summary, verification = _erase(source_url, store, subject, transcripts)
        except Exception as exc:
            _failed(store, record, request_id, request_type, exc, started)
    if verification is not None and verification["traces"]:
        where = ", ".join(f"{t['where']} ({t['matches']})" for t in verification["traces"])
        message = (f"deletion left {len(verification['traces'])} trace(s) of the customer: {where}; the request is "
                   "marked failed - remove them (or redact the files) and run the same request again")
        _fail(store, record, request_id, message, verification, started, summary)
        raise ActionFailedError(f"privacy request {request_id}: {message}")
    done = {"status": "completed", "completed_at": at, "summary": json.dumps(summary, sort_keys=True),
            "verification": json.dumps(verification, sort_keys=True) if verification is not None else None,
            "output_path": str(out) if out is not None else None}
    try:
        with store.transaction() as conn:
            audit_id = store.write_audit(conn, **record, status="succeeded", duration_ms=_ms(started),
                                         result={"request_id": request_id, "status": "completed"})
            conn.execute(update(privacy_requests).where(privacy_requests.c.request_id == request_id)
                         .values(**done, audit_id=audit_id))
    except IntegrityError:
        # An identical request running at the same time succeeded first (one succeeded audit row per key):
        # this one did its work too and is recorded as completed, audited as the other's duplicate.
        with store.transaction() as conn:
            first = store.find_done(conn, AUDIT_ACTION, at.date(), key)
            audit_id = store.write_audit(conn, **record, status="duplicate", duration_ms=_ms(started),
                                         result={"request_id": request_id},
                                         original_audit_id=first.audit_id if first else None)
            conn.execute(update(privacy_requests).where(privacy_requests.c.request_id == request_id)
                         .values(**done, audit_id=audit_id))
    return PrivacyOutcome("succeeded", get_request(store, request_id), audit_id, doc if request_type == "access" else None)


def _find_duplicate(store: OpsStore, record: dict[str, Any], request_type: str, subject_h: str,
                    started: float) -> PrivacyOutcome | None:
    """The earlier request a retry repeats (audited as ``duplicate``), or None."""
    with store.transaction() as conn:
        done = store.find_done(conn, AUDIT_ACTION, record["day"], record["idempotency_key"])
        first: int | None = done.result["request_id"] if done is not None else None
        original = done.audit_id if done is not None else None
        if first is None and request_type == "deletion":
            row = conn.execute(select(privacy_requests.c.request_id, privacy_requests.c.audit_id).where(
                privacy_requests.c.subject_hash == subject_h, privacy_requests.c.request_type == "deletion",
                privacy_requests.c.status == "completed").order_by(privacy_requests.c.request_id).limit(1)).first()
            if row is not None:
                first, original = int(row[0]), row[1]
        if first is None:
            return None
        audit_id = store.write_audit(conn, **record, status="duplicate", result={"request_id": first},
                                     duration_ms=_ms(started), original_audit_id=original)
    return PrivacyOutcome("duplicate", get_request(store, first), audit_id)


def _resume_erasure(store: OpsStore, request_type: str, subject_h: str, customer_id: str,
                    extra: tuple[str, ...]) -> Subject | None:
    """A deletion that failed part-way left the customer row gone: the rerun searches by id (and extra ids)."""
    if request_type != "deletion":
        return None
    stmt = select(privacy_requests.c.request_id).where(
        privacy_requests.c.subject_hash == subject_h, privacy_requests.c.request_type == "deletion",
        privacy_requests.c.status == "failed")
    if store.read(lambda conn: conn.execute(stmt).first()) is None:
        return None
    return Subject(customer_id, None, None, extra)


def _open(store: OpsStore, request_type: str, regulation: str, subject_h: str, key: str, requested_by: str,
          processed_by: str, at: dt.datetime) -> int:
    with store.transaction() as conn:
        request_id = inserted_id(conn.execute(insert(privacy_requests).values(
            request_type=request_type, regulation=regulation, subject_hash=subject_h, idempotency_key=key,
            status="received", day=at.date(), requested_at=at, requested_by=requested_by, processed_by=processed_by)))
    with store.transaction() as conn:  # from here on a crash leaves it visibly in progress
        conn.execute(update(privacy_requests).where(privacy_requests.c.request_id == request_id)
                     .values(status="in_progress"))
    return request_id


def _reject(store: OpsStore, record: dict[str, Any], request_type: str, regulation: str, subject_h: str,
            requested_by: str, processed_by: str, at: dt.datetime, started: float) -> None:
    why = "no such customer in the source database"
    with store.transaction() as conn:
        audit_id = store.write_audit(conn, **record, status="failed", error=why, duration_ms=_ms(started))
        conn.execute(insert(privacy_requests).values(
            request_type=request_type, regulation=regulation, subject_hash=subject_h,
            idempotency_key=record["idempotency_key"], status="rejected", day=at.date(), requested_at=at,
            completed_at=at, requested_by=requested_by, processed_by=processed_by, error=why, audit_id=audit_id))


def _fail(store: OpsStore, record: dict[str, Any], request_id: int, message: str,
          verification: dict[str, Any] | None, started: float, summary: dict[str, Any] | None = None) -> None:
    with store.transaction() as conn:
        audit_id = store.write_audit(conn, **record, status="failed", error=message, duration_ms=_ms(started),
                                     result={"request_id": request_id})
        conn.execute(update(privacy_requests).where(privacy_requests.c.request_id == request_id).values(
            status="failed", error=message, audit_id=audit_id,
            summary=json.dumps(summary, sort_keys=True) if summary is not None else None,
            verification=json.dumps(verification, sort_keys=True) if verification is not None else None))


def _failed(store: OpsStore, record: dict[str, Any], request_id: int, request_type: str, exc: Exception,
            started: float) -> NoReturn:
    """Record the failure of a running request, then raise it as an :class:`ActionFailedError`."""
    message = str(exc) if isinstance(exc, CJSimError) else f"{type(exc).__name__}: {exc}"
    _fail(store, record, request_id, message, None, started)
    raise ActionFailedError(f"privacy request {request_id} ({request_type}) failed: {message}") from exc


def _read_or_correct(src: Connection, store: OpsStore, request_type: str, subject: Subject, changes: dict[str, str],
                     transcripts: Path | None, out: Path | None, meta: dict[str, Any]
                     ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """An access, portability or correction request's work; returns (summary, access document)."""
    if request_type == "correction":
        return {"changed": correct_source(src, subject, changes)}, None
    doc = store.read(lambda ops: access_document(src, ops, subject, transcripts, meta=meta))
    if request_type == "portability":
        assert out is not None  # checked by check_request
        manifest = write_bundle(doc, out)
        return {"rows": {f["table"]: f["rows"] for f in manifest["files"]}, "format": manifest["format"]}, doc
    if out is not None:
        write_json(doc, out)
    counts = {f"{s}.{t}": len(rows) for s, tables in doc["stores"].items() for t, rows in tables.items()}
    return {"rows": dict(sorted(counts.items())), "files": len(doc["files"]),
            "name_searched": subject.name_is_identifier}, doc


def _erase(source_url: str, store: OpsStore, subject: Subject, transcripts: Path | None
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Erase the subject from the source (committed first), the operations store and the files, then verify."""
    erasure = Erasure()
    with writable_connection(source_url) as src:
        erase_source(src, subject, erasure)
    with store.transaction() as conn:
        erase_operations(conn, subject, erasure)
    files = store.read(lambda conn: files_of(transcripts, recorded_files(conn)))
    erasure.files = redact_files(files, subject.matcher(erasure.pseudonym))
    summary = {**erasure.summary(), "name_searched": subject.name_is_identifier}
    return summary, _verify(source_url, store, subject.matcher(), files)


def _verify(source_url: str, store: OpsStore, matcher: Matcher, files: list[tuple[str, Path]]) -> dict[str, Any]:
    """Search every table of both stores and every file for the identifiers, after an erasure."""
    with _source(source_url, write=False) as src:
        source_tables, source_traces = trace_counts(src, matcher)
    ops_tables, ops_traces = store.read(lambda conn: trace_counts(conn, matcher))
    hits = scan_files(files, matcher)
    traces = [{"where": f"source {k}", "matches": n} for k, n in sorted(source_traces.items())]
    traces += [{"where": f"operations {k}", "matches": n} for k, n in sorted(ops_traces.items())]
    traces += [{"where": f"file {h.path}" + (" (binary)" if h.binary else ""), "matches": h.matches} for h in hits]
    return {"source_tables": source_tables, "operations_tables": ops_tables, "files": len(files),
            "identifiers": len(matcher.needles), "traces": traces}


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
