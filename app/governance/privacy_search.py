"""Finding and redacting a person's identifiers in every table of a database and in files.

The search reads the tables a database actually has (reflected, so tables this version of cjsim does
not know are searched too) and looks at every text and JSON column: SQL narrows the rows with a
case-insensitive ``LIKE`` on any identifier, then Python keeps only whole-token matches (``C000987``
matches in ``HA-20250422-C000987-churn_risk`` but not in ``C0009871``). Files are read as UTF-8 text;
a file that is not text is still searched byte by byte, and a match there is reported (it cannot be
redacted safely). The files are a folder's (transcripts) plus any named one by one (the briefs,
audience exports and outboxes the operations store records, :func:`recorded_files`).

Example:
    >>> m = Matcher({"C000987": "ERASED-1", "sheena@example.com": "erased@erased.invalid"})
    >>> m.redact('{"customer_id": "C000987", "email": "Sheena@example.com", "other": "C0009871"}')
    '{"customer_id": "ERASED-1", "email": "erased@erased.invalid", "other": "C0009871"}'
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, MetaData, String, Table, Text, and_, cast, func, or_, select, update
from sqlalchemy.engine import Connection

from app.storage.ops import action_audit, runs_log

__all__ = [
    "subject_hash",
    "value_hash",
    "Matcher",
    "text_tables",
    "find_rows",
    "trace_counts",
    "redact_tables",
    "FileHit",
    "files_of",
    "scan_files",
    "redact_files",
    "file_mentions",
    "recorded_files",
]


def subject_hash(customer_id: str) -> str:
    """The SHA-256 (hex) a privacy request stores instead of the customer id."""
    return hashlib.sha256(f"cjsim-privacy-subject:{customer_id}".encode()).hexdigest()


def value_hash(value: str) -> str:
    """The SHA-256 (hex) a correction keeps of a personal value it replaced or wrote."""
    return hashlib.sha256(f"cjsim-privacy-value:{value}".encode()).hexdigest()


def _variants(identifier: str) -> set[str]:
    """The identifier as written, and as JSON writes it with non-ASCII escaped (``Zo\\u00eb``)."""
    escaped = json.dumps(identifier)[1:-1]
    return {identifier, escaped}


class Matcher:
    """Whole-token, case-insensitive matching of identifiers, each with its replacement.

    Args:
        replacements: identifier -> what replaces it when redacting (an empty identifier is ignored).
    """

    def __init__(self, replacements: Mapping[str, str]) -> None:
        self._by_lower: dict[str, str] = {}
        for identifier, replacement in replacements.items():
            if not identifier or not identifier.strip():
                continue
            for variant in _variants(identifier):
                self._by_lower.setdefault(variant.lower(), replacement)
        alternatives = sorted(self._by_lower, key=lambda s: (-len(s), s))  # longest first
        body = "|".join(re.escape(a) for a in alternatives) or r"(?!x)x"
        self._pattern = re.compile(rf"(?<![A-Za-z0-9])(?:{body})(?![A-Za-z0-9])", re.IGNORECASE)

    @property
    def needles(self) -> list[str]:
        """The lower-cased strings SQL pre-filters rows with."""
        return sorted(self._by_lower)

    def count(self, text: str) -> int:
        """How many whole-token matches ``text`` holds."""
        return sum(1 for _ in self._pattern.finditer(text))

    def matches(self, value: Any) -> bool:
        """Whether a column value (text, or a parsed JSON document) mentions an identifier."""
        if value is None:
            return False
        if isinstance(value, str):
            return self._pattern.search(value) is not None
        if isinstance(value, dict | list):
            return self._pattern.search(json.dumps(value, ensure_ascii=False)) is not None
        return False

    def redact(self, value: Any) -> Any:
        """``value`` with every identifier replaced (JSON documents walked, keys included)."""
        if isinstance(value, str):
            return self._pattern.sub(lambda m: self._by_lower[m.group(0).lower()], value)
        if isinstance(value, list):
            return [self.redact(v) for v in value]
        if isinstance(value, dict):
            return {self.redact(k): self.redact(v) for k, v in value.items()}
        return value


def text_tables(conn: Connection) -> list[tuple[Table, list[Any]]]:
    """Every table of the connection's schema with its text and JSON columns, by name."""
    md = MetaData()
    md.reflect(conn)
    out = []
    for name in sorted(md.tables):
        table = md.tables[name]
        cols = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
        if cols:
            out.append((table, cols))
    return out


def _candidates(conn: Connection, table: Table, cols: list[Any], matcher: Matcher) -> Iterator[dict[str, Any]]:
    needles = matcher.needles
    if not needles:
        return
    cond = or_(*(func.lower(cast(c, Text)).contains(n, autoescape=True) for c in cols for n in needles))
    order = list(table.primary_key.columns) or list(table.columns)
    for row in conn.execute(select(table).where(cond).order_by(*order)).mappings():
        if any(matcher.matches(row[c.name]) for c in cols):
            yield dict(row)


def find_rows(conn: Connection, matcher: Matcher, *, skip: frozenset[str] = frozenset()) -> dict[str, list[dict[str, Any]]]:
    """Table name -> the rows (primary-key order) whose text or JSON columns mention an identifier."""
    found: dict[str, list[dict[str, Any]]] = {}
    for table, cols in text_tables(conn):
        if table.name in skip:
            continue
        rows = list(_candidates(conn, table, cols, matcher))
        if rows:
            found[table.name] = rows
    return found


def trace_counts(conn: Connection, matcher: Matcher) -> tuple[int, dict[str, int]]:
    """(tables searched, ``table.column`` -> rows still mentioning an identifier)."""
    tables = text_tables(conn)
    traces: dict[str, int] = {}
    for table, cols in tables:
        for row in _candidates(conn, table, cols, matcher):
            for c in cols:
                if matcher.matches(row[c.name]):
                    key = f"{table.name}.{c.name}"
                    traces[key] = traces.get(key, 0) + 1
    return len(tables), traces


def redact_tables(conn: Connection, matcher: Matcher, *, skip: frozenset[str] = frozenset()) -> dict[str, int]:
    """Replace every identifier in every text and JSON column, in place; table name -> rows changed.

    Rows are found first, then updated by primary key (by their old values where a table has none).
    """
    changed: dict[str, int] = {}
    for table, cols in text_tables(conn):
        if table.name in skip:
            continue
        rows = list(_candidates(conn, table, cols, matcher))
        keys = list(table.primary_key.columns)
        for row in rows:
            values = {c.name: matcher.redact(row[c.name]) for c in cols if matcher.matches(row[c.name])}
            match_on = keys or [c for c in table.columns if row[c.name] is not None and c.name not in values]
            where = and_(*(k == row[k.name] for k in match_on))
            conn.execute(update(table).where(where).values(**values))
        if rows:
            changed[table.name] = len(rows)
    return changed


@dataclass(frozen=True)
class FileHit:
    """A file that mentions an identifier: its path relative to the folder searched, how often, and
    whether it is text (redactable) or binary."""

    path: str
    matches: int
    binary: bool


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def files_of(root: Path | None, extra: Iterable[Path] = ()) -> list[tuple[str, Path]]:
    """(label, path) of every file to search: those under ``root`` (labelled relative to it), then the
    ``extra`` files that exist (labelled as given; a folder stands for the files under it)."""
    items = [(p.relative_to(root).as_posix(), p) for p in _files(root)] if root is not None else []
    seen = {p.resolve() for _, p in items}
    for path in extra:
        found = [path] if path.is_file() else list(_files(path)) if path.is_dir() else []
        for f in found:
            if f.resolve() not in seen and not f.is_symlink():
                seen.add(f.resolve())
                items.append((str(f), f))
    return items


def _read(path: Path) -> tuple[str | None, bytes]:
    data = path.read_bytes()
    try:
        return data.decode("utf-8"), data
    except UnicodeDecodeError:
        return None, data


def _binary_count(data: bytes, matcher: Matcher) -> int:
    low = data.lower()
    return sum(low.count(n.encode("utf-8")) for n in matcher.needles)


def scan_files(files: list[tuple[str, Path]], matcher: Matcher) -> list[FileHit]:
    """The files (see :func:`files_of`) that mention an identifier."""
    hits = []
    for label, path in files:
        text, data = _read(path)
        n = matcher.count(text) if text is not None else _binary_count(data, matcher)
        if n:
            hits.append(FileHit(label, n, text is None))
    return hits


def redact_files(files: list[tuple[str, Path]], matcher: Matcher) -> list[str]:
    """Replace every identifier in the text files (atomically, file by file); the labels of those changed."""
    changed = []
    for label, path in files:
        text, _ = _read(path)
        if text is None or not matcher.count(text):
            continue
        tmp = path.with_name(f".{path.name}.privacy-tmp")
        tmp.write_text(matcher.redact(text), encoding="utf-8", newline="")
        os.replace(tmp, path)
        changed.append(label)
    return changed


def _json_mentions(doc: Any, matcher: Matcher, path: str, out: list[dict[str, str]]) -> None:
    if isinstance(doc, dict):
        for k, v in doc.items():
            _json_mentions(v, matcher, f"{path}.{k}" if path else str(k), out)
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            _json_mentions(v, matcher, f"{path}[{i}]", out)
    elif isinstance(doc, str) and matcher.matches(doc):
        out.append({"at": path, "text": doc})


def file_mentions(files: list[tuple[str, Path]], matcher: Matcher) -> list[dict[str, Any]]:
    """What each file (see :func:`files_of`) says about the subject: for JSON and JSON Lines the strings
    that mention an identifier with their JSON path, for other text the lines; binary files by count only."""
    out: list[dict[str, Any]] = []
    for label, path in files:
        text, data = _read(path)
        if text is None:
            if _binary_count(data, matcher):
                out.append({"file": label, "binary": True, "mentions": []})
            continue
        if not matcher.count(text):
            continue
        mentions: list[dict[str, str]] = []
        docs = _json_documents(text, path.suffix)
        if docs is not None:
            for at, doc in docs:
                _json_mentions(doc, matcher, at, mentions)
        else:
            mentions = [{"at": f"line {i}", "text": line} for i, line in enumerate(text.splitlines(), 1)
                        if matcher.count(line)]
        out.append({"file": label, "binary": False, "mentions": mentions})
    return out


def _json_documents(text: str, suffix: str) -> list[tuple[str, Any]] | None:
    try:
        if suffix == ".jsonl":
            return [(f"line {i}", json.loads(line)) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
        if suffix == ".json":
            return [("", json.loads(text))]
    except ValueError:
        return None
    return None


def recorded_files(conn: Connection) -> list[Path]:
    """The files the operations store says cjsim wrote (retention briefs, audience exports, webhook
    outboxes), as recorded: each may since have been moved or deleted."""
    paths: set[str] = set()
    cols = [runs_log.c.brief_path, runs_log.c.export_p1_path, runs_log.c.export_p2_path, runs_log.c.export_p3_path,
            runs_log.c.outbox_path]
    for row in conn.execute(select(*cols)):
        paths.update(p for p in row if p)
    audits = select(action_audit.c.result).where(action_audit.c.action == "export_audience",
                                                 action_audit.c.status == "succeeded")
    for (result,) in conn.execute(audits):
        path = json.loads(result).get("path") if result else None
        if isinstance(path, str) and path:
            paths.add(path)
    return [Path(p) for p in sorted(paths)]
