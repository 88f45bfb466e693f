"""API keys of the MCP HTTP transport: making, checking and rate-limiting them (docs/mcp.md, "API keys").

A key is ``cjk_`` followed by 48 hex digits from :mod:`secrets` (192 random bits). It is shown
once, on creation; the store keeps only its SHA-256 (a slow password hash buys nothing for a
random key of this length: nobody can guess it, hashed or not) and its first 12 characters as a
visible prefix. A key allows a set of operations: tool names and the groups ``views`` and
``actions``. Each key has its own rate limit, enforced by :class:`RateLimiter` (a token bucket on
an injectable clock).

Example:
    >>> from app.storage.ops import OpsStore
    >>> store = OpsStore.in_memory()
    >>> created = create_key(store, name="dashboard", allow="views,save_note", rate_limit=30)
    >>> created.key.startswith(created.row.prefix), authenticate(store, created.key).name
    (True, 'dashboard')
    >>> allows(created.row, "get_ticket_metrics"), allows(created.row, "trigger_playbook")
    (True, False)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.errors import CJSimError, InvalidArgumentError, UnknownNameError
from app.storage.ops import OpsStore
from app.storage.ops_keys import ApiKeyRow, insert_key, key_by_hash, key_rows, revoke_key
from app.views import ACTIONS, VIEWS, tool_names

__all__ = [
    "KEY_PREFIX",
    "GROUPS",
    "MAX_RATE_LIMIT",
    "KeyRefused",
    "CreatedKey",
    "hash_key",
    "parse_allow",
    "parse_duration",
    "create_key",
    "list_keys",
    "revoke",
    "authenticate",
    "allows",
    "RateLimiter",
    "utc_now",
]

KEY_PREFIX = "cjk_"
_VISIBLE = len(KEY_PREFIX) + 8
GROUPS = ("views", "actions")
MAX_RATE_LIMIT = 100_000
_DURATION = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNIT = {"d": dt.timedelta(days=1), "h": dt.timedelta(hours=1), "m": dt.timedelta(minutes=1)}


def utc_now() -> dt.datetime:
    """The wall clock as naive UTC (how the store keeps times)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class KeyRefused(CJSimError):
    """A request's key is missing, unknown, expired or revoked (HTTP 401)."""


@dataclass(frozen=True)
class CreatedKey:
    """A new key: the full key (shown once, stored nowhere) and its stored row."""

    key: str
    row: ApiKeyRow


def hash_key(key: str) -> str:
    """The hex SHA-256 the store keeps in place of ``key``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_allow(allow: str | list[str]) -> list[str]:
    """The allowed operations of ``--allow``: comma-separated tool names and groups, checked and deduplicated."""
    items = allow.split(",") if isinstance(allow, str) else list(allow)
    names = [item.strip() for item in items if item.strip()]
    if not names:
        raise InvalidArgumentError(f"--allow names no operation; give {', '.join(GROUPS)} or tool names")
    known = set(GROUPS) | set(tool_names())
    for name in names:
        if name not in known:
            raise UnknownNameError("operation", name, known)
    return list(dict.fromkeys(names))


def parse_duration(text: str) -> dt.timedelta:
    """``30d``, ``12h`` or ``45m`` as a duration (at least one minute)."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise InvalidArgumentError(f"--expires-in must be a positive number of days, hours or minutes like 30d, 12h or 45m, got {text!r}")
    return int(match.group(1)) * _UNIT[match.group(2)]


def create_key(
    store: OpsStore,
    *,
    name: str,
    allow: str | list[str] = "views",
    rate_limit: int = 60,
    expires_in: str | dt.timedelta | None = None,
    now: dt.datetime | None = None,
) -> CreatedKey:
    """Make a key and store its hash; the returned :class:`CreatedKey` is the only copy of the key.

    Args:
        store: the operations store the HTTP server will read keys from.
        name: who or what the key is for (shown by ``cjsim mcp keys list``).
        allow: operations the key may call: tool names, ``views`` (every view), ``actions`` (every action).
        rate_limit: requests per minute (1 to :data:`MAX_RATE_LIMIT`).
        expires_in: a duration (``30d``, ``12h``, ``45m``) after ``now``; ``None``: never expires.
        now: the creation time, naive UTC (default: the wall clock).

    Raises:
        InvalidArgumentError / UnknownNameError: an empty name, a bad limit, duration or operation.
    """
    if not name.strip():
        raise InvalidArgumentError("--name must not be empty; say who or what the key is for")
    if len(name) > 100:
        raise InvalidArgumentError("--name must be at most 100 characters")
    if not 1 <= rate_limit <= MAX_RATE_LIMIT:
        raise InvalidArgumentError(f"--rate-limit must be between 1 and {MAX_RATE_LIMIT:,} requests per minute, got {rate_limit}")
    operations = parse_allow(allow)
    at = now or utc_now()
    lifetime = parse_duration(expires_in) if isinstance(expires_in, str) else expires_in
    while True:  # a prefix collision (32 random bits) is rare; draw again rather than fail
        key = KEY_PREFIX + secrets.token_hex(24)
        row = insert_key(
            store, key_hash=hash_key(key), prefix=key[:_VISIBLE], name=name.strip(), allowed_operations=operations,
            rate_limit=rate_limit, created_at=at, expires_at=at + lifetime if lifetime else None,
        )  # fmt: skip
        if row is not None:
            return CreatedKey(key, row)


def list_keys(store: OpsStore) -> list[ApiKeyRow]:
    """Every key of ``store``, oldest first (revoked and expired ones included)."""
    return key_rows(store)


def revoke(store: OpsStore, prefix: str, now: dt.datetime | None = None) -> ApiKeyRow:
    """Revoke the key with visible prefix ``prefix``; an unknown prefix lists the known ones."""
    row = revoke_key(store, prefix.strip(), now or utc_now())
    if row is None:
        raise UnknownNameError("key", prefix, [k.prefix for k in key_rows(store)], hint="See cjsim mcp keys list")
    return row


def authenticate(store: OpsStore, key: str | None, now: dt.datetime | None = None) -> ApiKeyRow:
    """The active key ``key`` names.

    Raises:
        KeyRefused: no key, an unknown key, or an expired or revoked one (the message says which).
    """
    if not key:
        raise KeyRefused("this server needs an API key: send the header 'Authorization: Bearer <key>'")
    row = key_by_hash(store, hash_key(key))
    if row is None:
        raise KeyRefused("the API key is not valid; create one with cjsim mcp keys create")
    state = row.state(now or utc_now())
    if state != "active":
        raise KeyRefused(f"the API key {row.prefix} is {state}; create a new one with cjsim mcp keys create")
    return row


def allows(row: ApiKeyRow, tool: str) -> bool:
    """Whether the key may call ``tool`` (by name, or through the group of its kind)."""
    if tool in row.allowed_operations:
        return True
    if "views" in row.allowed_operations and any(spec.tool == tool for spec in VIEWS.values()):
        return True
    return "actions" in row.allowed_operations and any(spec.tool == tool for spec in ACTIONS.values())


class RateLimiter:
    """Per-key token buckets: a key of ``N`` requests per minute holds up to ``N`` tokens, refilled
    at ``N / 60`` per second; each request takes one. Deterministic on the injected clock.

    Args:
        clock: seconds on a monotonic clock (default :func:`time.monotonic`; tests pass a fake).

    Example:
        >>> t = [0.0]
        >>> limiter = RateLimiter(clock=lambda: t[0])
        >>> [limiter.acquire("k", 2) for _ in range(3)]
        [0, 0, 30]
        >>> t[0] = 30.0
        >>> limiter.acquire("k", 2)
        0
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when counted)
        self._lock = threading.Lock()

    def acquire(self, key: str, per_minute: int) -> int:
        """Take one token for ``key``: 0 when the request may go, else the seconds to wait (Retry-After)."""
        with self._lock:
            now = self._clock()
            tokens, then = self._buckets.get(key, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - then) * per_minute / 60.0)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil(round((1.0 - tokens) * 60.0 / per_minute, 6)))  # round: 0.05 * 20 is not 1.0 in floats
