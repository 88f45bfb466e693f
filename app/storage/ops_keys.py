"""API keys of the MCP HTTP transport in the operations store (migration 9, ``ops_api_keys``).

A row holds what identifies and limits a key, never the key itself: the SHA-256 of the full key
(``key_hash``), a short visible ``prefix`` for people to tell keys apart and revoke them, a name,
the operations the key may call (JSON list of tool names and the groups ``views`` / ``actions``),
its rate limit, its expiry, and usage (``last_used_at``, ``request_count``). Revoking sets
``revoked_at``; rows are never deleted, so the audit trail's actor ``mcp:<prefix>`` keeps a meaning.
How keys are made and checked lives in :mod:`app.mcp.keys`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.storage.ops_meta import ops_metadata

if TYPE_CHECKING:
    from app.storage.ops import OpsStore

__all__ = ["api_keys", "ApiKeyRow", "insert_key", "key_rows", "key_by_hash", "revoke_key", "record_use"]

api_keys = Table(
    "ops_api_keys",
    ops_metadata,
    Column("key_id", Integer, primary_key=True, autoincrement=True),
    Column("key_hash", String(64), nullable=False, unique=True, doc="hex SHA-256 of the full key; the key is never stored"),
    Column("prefix", String(16), nullable=False, unique=True, doc="the key's first characters, e.g. cjk_1a2b3c4d"),
    Column("name", String(100), nullable=False),
    Column("allowed_operations", Text, nullable=False, doc="JSON list: tool names, 'views', 'actions'"),
    Column("rate_limit", Integer, nullable=False, doc="requests per minute"),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=True, doc="null: never expires"),
    Column("revoked_at", DateTime, nullable=True, doc="null: active"),
    Column("last_used_at", DateTime, nullable=True),
    Column("request_count", Integer, nullable=False, default=0),
)
Index("ops_api_keys_by_name", api_keys.c.name)


@dataclass(frozen=True)
class ApiKeyRow:
    """One stored key (what is known about it; the key itself is not)."""

    key_id: int
    key_hash: str
    prefix: str
    name: str
    allowed_operations: tuple[str, ...]
    rate_limit: int
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None
    request_count: int

    def state(self, now: dt.datetime) -> str:
        """``active``, ``expired`` or ``revoked`` at ``now`` (naive UTC)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def _row(row: Any) -> ApiKeyRow:
    return ApiKeyRow(
        key_id=row["key_id"],
        key_hash=row["key_hash"],
        prefix=row["prefix"],
        name=row["name"],
        allowed_operations=tuple(json.loads(row["allowed_operations"])),
        rate_limit=row["rate_limit"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
        request_count=row["request_count"] or 0,
    )


def insert_key(
    store: OpsStore,
    *,
    key_hash: str,
    prefix: str,
    name: str,
    allowed_operations: list[str],
    rate_limit: int,
    created_at: dt.datetime,
    expires_at: dt.datetime | None,
) -> ApiKeyRow | None:
    """Store a new key; ``None`` when its hash or prefix is taken (the caller draws another key)."""
    values = {
        "key_hash": key_hash, "prefix": prefix, "name": name, "allowed_operations": json.dumps(allowed_operations),
        "rate_limit": rate_limit, "created_at": created_at, "expires_at": expires_at, "request_count": 0,
    }  # fmt: skip
    try:
        with store.transaction() as conn:
            conn.execute(insert(api_keys).values(**values))
    except IntegrityError:
        return None
    return key_by_hash(store, key_hash)


def key_rows(store: OpsStore) -> list[ApiKeyRow]:
    """Every stored key, oldest first."""
    return store.read(lambda conn: [_row(r) for r in conn.execute(select(api_keys).order_by(api_keys.c.key_id)).mappings()])


def key_by_hash(store: OpsStore, key_hash: str) -> ApiKeyRow | None:
    """The key whose hash is ``key_hash``, if any."""
    row = store.read(lambda conn: conn.execute(select(api_keys).where(api_keys.c.key_hash == key_hash)).mappings().first())
    return _row(row) if row else None


def revoke_key(store: OpsStore, prefix: str, at: dt.datetime) -> ApiKeyRow | None:
    """Mark the key with ``prefix`` revoked (kept if already revoked); ``None`` when there is none."""
    with store.transaction() as conn:
        conn.execute(
            update(api_keys).where(api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None)).values(revoked_at=at)
        )
        row = conn.execute(select(api_keys).where(api_keys.c.prefix == prefix)).mappings().first()
    return _row(row) if row else None


def record_use(store: OpsStore, key_id: int, at: dt.datetime, count: int = 1) -> None:
    """Note ``count`` authenticated requests of key ``key_id``, the last at ``at``."""
    with store.transaction() as conn:
        conn.execute(
            update(api_keys)
            .where(api_keys.c.key_id == key_id)
            .values(last_used_at=at, request_count=api_keys.c.request_count + count)
        )
