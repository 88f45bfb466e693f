"""What a privacy request reads and changes: the subject, the access export, the portability bundle,
the erasure and the correction.

These functions do the work on open connections; :mod:`app.governance.privacy` runs them in order,
records the request and audits it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import secrets
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from app.errors import InvalidArgumentError
from app.governance.privacy_search import (
    Matcher,
    file_mentions,
    files_of,
    find_rows,
    recorded_files,
    redact_tables,
    value_hash,
)
from app.storage.ops import notes
from app.storage.ops_core import core_entities, core_exposures, core_lineage, core_outcomes
from app.storage.schema import TABLE_NAMES, customer_facts, customers, support_tickets, ticket_search

__all__ = [
    "EXPORT_FORMAT",
    "BUNDLE_FORMAT",
    "ERASED_NAME",
    "ERASED_TEXT",
    "CORRECTABLE",
    "PERSONAL_FIELDS",
    "Subject",
    "find_subject",
    "entity_ids",
    "access_document",
    "write_json",
    "write_bundle",
    "Erasure",
    "erase_source",
    "erase_operations",
    "check_changes",
    "correct_source",
]

EXPORT_FORMAT = "cjsim-privacy-export/1"
"""The access export's ``format`` field (docs/governance.md describes the document)."""

BUNDLE_FORMAT = "cjsim-portability-bundle/1"
"""The portability bundle's ``manifest.json`` ``format`` field."""

ERASED_NAME = "Erased customer"
"""What replaces an erased customer's name everywhere."""

ERASED_TEXT = "[erased]"
"""What replaces free text the customer wrote (support ticket subjects)."""

CORRECTABLE = ("name", "email", "country", "segment_hint")
"""The customer fields a correction may change (the id is the key and never changes)."""

PERSONAL_FIELDS = frozenset({"name", "email"})
"""Fields whose old and new values the request keeps only as hashes."""

_FIXED_ZIP_TIME = (2000, 1, 1, 0, 0, 0)  # a bundle's bytes depend on its content only


@dataclass(frozen=True)
class Subject:
    """The person a request is about, as the source database knows them.

    ``name_shared`` counts other customers with the same name: a shared name is no identifier (it
    would find other people), so it is then left out of searches and redactions of free text.
    """

    customer_id: str
    email: str | None
    name: str | None
    extra_ids: tuple[str, ...] = ()
    name_shared: int = 0
    entity_ids: tuple[int, ...] = field(default=())

    @property
    def name_is_identifier(self) -> bool:
        return bool(self.name) and self.name_shared == 0

    def identifiers(self) -> list[str]:
        """Everything searched for: id, extra ids, email, and the name unless shared."""
        out = [self.customer_id, *self.extra_ids]
        if self.email:
            out.append(self.email)
        if self.name_is_identifier and self.name:
            out.append(self.name)
        return out

    def matcher(self, pseudonym: str = "ERASED") -> Matcher:
        """A matcher of the identifiers, replacing ids by ``pseudonym``, the email and name by erased values."""
        repl = {i: pseudonym for i in (self.customer_id, *self.extra_ids)}
        if self.email:
            repl[self.email] = f"{pseudonym.lower()}@erased.invalid"
        if self.name_is_identifier and self.name:
            repl[self.name] = ERASED_NAME
        return Matcher(repl)


def find_subject(conn: Connection, customer_id: str, extra_ids: tuple[str, ...] = ()) -> Subject | None:
    """The customer with ``customer_id`` in the source database, or None."""
    row = conn.execute(select(customers).where(customers.c.customer_id == customer_id)).mappings().first()
    if row is None:
        return None
    shared = conn.execute(
        select(func.count()).select_from(customers)
        .where(func.lower(customers.c.name) == str(row["name"]).lower(), customers.c.customer_id != customer_id)
    ).scalar_one()  # fmt: skip
    return Subject(customer_id, row["email"], row["name"], extra_ids, int(shared))


def entity_ids(conn: Connection, subject: Subject) -> tuple[int, ...]:
    """The universal-core entities of the subject (external id = the customer id or an extra id)."""
    ids = (subject.customer_id, *subject.extra_ids)
    rows = conn.execute(
        select(core_entities.c.entity_id).where(core_entities.c.external_id.in_(ids)).order_by(core_entities.c.entity_id)
    ).scalars()
    return tuple(int(r) for r in rows)


def _linked_core_rows(conn: Connection, ids: tuple[int, ...]) -> dict[str, list[dict[str, Any]]]:
    """Core rows tied to the subject's entities by key rather than by text: exposures, outcomes, their lineage."""
    if not ids:
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    for table in (core_exposures, core_outcomes):
        rows = [dict(r) for r in conn.execute(select(table).where(table.c.entity_id.in_(ids))
                                              .order_by(*table.primary_key.columns)).mappings()]
        if rows:
            out[table.name] = rows
    dest = [("core_entities", str(i)) for i in ids]
    dest += [("core_outcomes", str(r["outcome_id"])) for r in out.get("core_outcomes", [])]
    dest += [("core_exposures", str(r["exposure_id"])) for r in out.get("core_exposures", [])]
    lineage = []
    for table_name, dest_id in dest:
        lineage += [dict(r) for r in conn.execute(
            select(core_lineage).where(core_lineage.c.dest_table == table_name, core_lineage.c.dest_id == dest_id)
            .order_by(core_lineage.c.lineage_id)).mappings()]  # fmt: skip
    if lineage:
        out[core_lineage.name] = sorted(lineage, key=lambda r: r["lineage_id"])
    return out


def _merge(found: dict[str, list[dict[str, Any]]], more: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    out = {k: list(v) for k, v in found.items()}
    for name, rows in more.items():
        seen = {json.dumps(r, sort_keys=True, default=str) for r in out.get(name, [])}
        out.setdefault(name, []).extend(r for r in rows if json.dumps(r, sort_keys=True, default=str) not in seen)
    return {k: out[k] for k in sorted(out)}


def access_document(
    source: Connection, ops: Connection | None, subject: Subject, transcripts: Path | None, *, meta: Mapping[str, Any]
) -> dict[str, Any]:
    """Everything held about the subject: rows of every table of both stores, mentions in the files
    (under ``transcripts``, and those the operations store records: briefs, audience exports, outboxes)."""
    matcher = subject.matcher()
    stores: dict[str, dict[str, list[dict[str, Any]]]] = {"source": find_rows(source, matcher)}
    if ops is not None:
        stores["operations"] = _merge(find_rows(ops, matcher), _linked_core_rows(ops, subject.entity_ids))
    return {
        "format": EXPORT_FORMAT,
        **meta,
        "subject": {"customer_id": subject.customer_id, "email": subject.email, "name": subject.name,
                    "extra_ids": list(subject.extra_ids)},
        "name_searched": subject.name_is_identifier,
        "stores": stores,
        "files": file_mentions(files_of(transcripts, recorded_files(ops) if ops is not None else []), matcher),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def write_json(doc: Mapping[str, Any], out: Path | None) -> str:
    """The export as JSON text (sorted keys), written to ``out`` when given."""
    text = json.dumps(doc, indent=2, sort_keys=True, default=_plain, ensure_ascii=False) + "\n"
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return text


def _csv(rows: list[dict[str, Any]]) -> str:
    columns = sorted({k for r in rows for k in r})
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow(["" if r.get(c) is None else json.dumps(r[c], sort_keys=True) if isinstance(r[c], dict | list)
                         else _plain(r[c]) if isinstance(r[c], dt.date) else r[c] for c in columns])
    return buf.getvalue()


def write_bundle(doc: Mapping[str, Any], out: Path) -> dict[str, Any]:
    """The portability bundle: a zip of ``manifest.json`` and one CSV per source base table; returns the manifest.

    Only the data the customer provided or their activity produced (the base tables: customer,
    subscriptions, orders, refunds, tickets, signals) is portable; what cjsim derived from it
    (facts, health, priorities, the operations store) is in the access export instead.
    """
    tables = {name: rows for name, rows in doc["stores"]["source"].items() if name in TABLE_NAMES}
    manifest = {
        "format": BUNDLE_FORMAT,
        "request_id": doc.get("request_id"),
        "regulation": doc.get("regulation"),
        "generated_at": doc.get("generated_at"),
        "customer_id": doc["subject"]["customer_id"],
        "encoding": "UTF-8 CSV, header row, comma-separated, RFC 4180 quoting; empty cell = no value; "
                    "dates ISO 8601; money in minor units (*_cents)",
        "files": [{"path": f"{name}.csv", "table": name, "rows": len(rows),
                   "columns": sorted({k for r in rows for k in r})} for name, rows in sorted(tables.items())],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        entries = [("manifest.json", json.dumps(manifest, indent=2, sort_keys=True, default=_plain) + "\n")]
        entries += [(f"{name}.csv", _csv(rows)) for name, rows in sorted(tables.items())]
        for name, text in entries:
            info = zipfile.ZipInfo(name, date_time=_FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text.encode("utf-8"))
    return manifest


@dataclass
class Erasure:
    """What an erasure did: rows anonymised (identifiers replaced) and deleted, per table; files redacted."""

    pseudonym: str = field(default_factory=lambda: "ERASED-" + secrets.token_hex(5).upper())
    anonymised: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Counts and names only (the pseudonym is left out: it would tie the request to the kept rows)."""
        return {"anonymised": dict(sorted(self.anonymised.items())), "deleted": dict(sorted(self.deleted.items())),
                "files_redacted": len(self.files)}


def erase_source(conn: Connection, subject: Subject, erasure: Erasure) -> None:
    """Erase the subject from the source database, inside the caller's transaction.

    The customer row is replaced by an anonymous one under a random id (name, email erased; country,
    segment and sign-up date kept), every row pointing at it follows, ticket subjects they wrote are
    erased, and every remaining mention of an identifier in any text or JSON column is replaced. Row
    counts stay the same, so the revenue, churn and ticket aggregates still add up.
    """
    p = erasure.pseudonym
    row = conn.execute(select(customers).where(customers.c.customer_id == subject.customer_id)).mappings().first()
    if row is not None:
        conn.execute(insert(customers).values({**row, "customer_id": p, "name": ERASED_NAME,
                                               "email": f"{p.lower()}@erased.invalid"}))
    tickets = list(conn.execute(select(support_tickets.c.ticket_id, support_tickets.c.category)
                                .where(support_tickets.c.customer_id == subject.customer_id)))
    if tickets:
        conn.execute(update(support_tickets).where(support_tickets.c.customer_id == subject.customer_id)
                     .values(subject=ERASED_TEXT))
        for ticket_id, category in tickets:  # the search text is "subject\ncategory", lower-cased
            conn.execute(update(ticket_search).where(ticket_search.c.ticket_id == ticket_id)
                         .values(text=f"{ERASED_TEXT}\n{str(category).lower()}"))
    erasure.anonymised.update(redact_tables(conn, subject.matcher(p), skip=frozenset({customers.name})))
    # a shared name is no identifier, but the subject's own rows still lose it
    named = conn.execute(update(customer_facts).where(customer_facts.c.customer_id == p).values(name=ERASED_NAME))
    if named.rowcount and customer_facts.name not in erasure.anonymised:
        erasure.anonymised[customer_facts.name] = named.rowcount
    if row is not None:
        conn.execute(delete(customers).where(customers.c.customer_id == subject.customer_id))
        erasure.anonymised[customers.name] = 1
    if tickets:
        erasure.anonymised[support_tickets.name] = max(erasure.anonymised.get(support_tickets.name, 0), len(tickets))


def erase_operations(conn: Connection, subject: Subject, erasure: Erasure) -> None:
    """Erase the subject from the operations store, inside the caller's transaction.

    Notes about the customer are deleted (free text about a person, used for nothing else); their
    core entities keep their numbers but lose demographics and preferences; every other mention
    (audit arguments and results, priorities, alerts, interventions, journey logs, lineage) has its
    identifiers replaced, so counts, outcomes and playbook performance stay intact.
    """
    gone = conn.execute(delete(notes).where(notes.c.customer_id == subject.customer_id)).rowcount
    if gone:
        erasure.deleted[notes.name] = gone
    if subject.entity_ids:
        conn.execute(update(core_entities).where(core_entities.c.entity_id.in_(subject.entity_ids))
                     .values(demographics=None, preferences=None))
        erasure.anonymised[core_entities.name] = len(subject.entity_ids)
    for name, n in redact_tables(conn, subject.matcher(erasure.pseudonym)).items():
        erasure.anonymised[name] = max(erasure.anonymised.get(name, 0), n)


def check_changes(changes: Mapping[str, str]) -> dict[str, str]:
    """Validated correction values (field -> new value), or an error naming the fix."""
    if not changes:
        raise InvalidArgumentError("a correction needs the fields to change: --set field=value (fields: "
                                   + ", ".join(CORRECTABLE) + ")")
    out = {}
    for name, value in changes.items():
        if name not in CORRECTABLE:
            raise InvalidArgumentError(f"--set {name}=...: {name!r} cannot be corrected; correctable fields: "
                                       + ", ".join(CORRECTABLE))
        value = value.strip()
        limit = int(getattr(customers.c[name].type, "length", None) or 200)
        if not value or len(value) > limit:
            raise InvalidArgumentError(f"--set {name}=...: give a value of 1-{limit} characters")
        if name == "email" and ("@" not in value or " " in value):
            raise InvalidArgumentError(f"--set email={value!r}: not an email address")
        if name == "country":
            if len(value) != 2 or not value.isalpha():
                raise InvalidArgumentError(f"--set country={value!r}: give an ISO 3166 two-letter code such as GB")
            value = value.upper()
        out[name] = value
    return out


def correct_source(conn: Connection, subject: Subject, changes: Mapping[str, str]) -> dict[str, Any]:
    """Apply a correction in the source database (and the customer facts that copy the name).

    Returns, per field, the old and new values: hashed for personal fields, plain otherwise.
    """
    row = conn.execute(select(customers).where(customers.c.customer_id == subject.customer_id)).mappings().one()
    conn.execute(update(customers).where(customers.c.customer_id == subject.customer_id).values(**changes))
    if "name" in changes:
        conn.execute(update(customer_facts).where(customer_facts.c.customer_id == subject.customer_id)
                     .values(name=changes["name"]))
    out: dict[str, Any] = {}
    for name, new in sorted(changes.items()):
        old = row[name]
        if name in PERSONAL_FIELDS:
            out[name] = {"before_sha256": value_hash(str(old)), "after_sha256": value_hash(new), "changed": old != new}
        else:
            out[name] = {"before": old, "after": new, "changed": old != new}
    return out
