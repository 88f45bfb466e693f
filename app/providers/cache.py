"""A small view-result cache with per-view time-to-live, hit/miss counts and an injectable clock.

Keys are whatever the provider uses (view, validated arguments, ``as_of``); the view name picks
the time-to-live. A workflow that needs a view fresh every 5 minutes (crisis response) gets a
5-minute TTL; one that reads it once a day (daily briefing) keeps it for 24 hours.

Example:
    >>> now = [0.0]
    >>> cache = ViewCache(ttl=lambda view: 60, clock=lambda: now[0])
    >>> cache.put("daily_briefing", ("daily_briefing", "{}"), "result")
    >>> cache.get("daily_briefing", ("daily_briefing", "{}"))
    'result'
    >>> now[0] = 61.0
    >>> cache.get("daily_briefing", ("daily_briefing", "{}")) is None
    True
    >>> (cache.hits, cache.misses)
    (1, 1)
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["DEFAULT_VIEW_TTLS", "ViewCache", "ttl_for_view", "no_expiry", "workflow_ttls"]

MINUTE = 60
HOUR = 60 * MINUTE

DEFAULT_VIEW_TTLS: dict[str, float] = {
    "daily_briefing": 24 * HOUR,
    "financial_metrics": 24 * HOUR,
    "business_timeline": 24 * HOUR,
    "customer_segment": 1 * HOUR,
    "detect_anomalies": 1 * HOUR,
    "customer_profile": 15 * MINUTE,
    "ticket_metrics": 5 * MINUTE,
    "crisis_analysis": 5 * MINUTE,
    "customer_list": 5 * MINUTE,
    "search_tickets": 5 * MINUTE,
}
"""Seconds a view result stays valid, after the refresh intervals workflows declare for it
(daily briefing 24h, crisis analysis 5m, ...). Views not listed get :data:`FALLBACK_TTL`."""

FALLBACK_TTL = 5 * MINUTE


def ttl_for_view(view: str) -> float | None:
    """Default time-to-live of a view's results, in seconds."""
    return DEFAULT_VIEW_TTLS.get(view, FALLBACK_TTL)


def no_expiry(view: str) -> None:
    """TTL policy of data that never changes under a given ``as_of`` (a generated world)."""
    return None


def workflow_ttls(refresh_seconds: Callable[[str], int | None]) -> Callable[[str], float | None]:
    """A TTL policy from workflows' declared refresh intervals, the defaults filling the gaps.

    ``refresh_seconds(view)`` is e.g. ``app.workflows.workflows().refresh_seconds``.
    """

    def ttl(view: str) -> float | None:
        declared = refresh_seconds(view)
        return float(declared) if declared is not None else ttl_for_view(view)

    return ttl


class ViewCache:
    """Results by key, each expiring ``ttl(view)`` seconds after it was stored (never if None).

    Args:
        ttl: time-to-live policy, seconds per view name (None: never expires).
        clock: monotonic seconds; injectable so tests can move time without sleeping.
        max_entries: least recently used entries are dropped beyond this many.
    """

    def __init__(
        self,
        ttl: Callable[[str], float | None] = ttl_for_view,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 4096,
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[float | None, Any]] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.invalidations = 0

    def get(self, view: str, key: Hashable) -> Any | None:
        """The cached value, or None (counted as a miss) if absent or expired."""
        entry = self._entries.get(key)
        if entry is not None:
            expires, value = entry
            if expires is None or self.clock() < expires:
                self._entries.move_to_end(key)
                self.hits += 1
                return value
            del self._entries[key]
        self.misses += 1
        return None

    def put(self, view: str, key: Hashable, value: Any) -> None:
        """Store a value under ``key`` with the view's time-to-live."""
        ttl = self.ttl(view)
        self._entries[key] = (None if ttl is None else self.clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Drop every entry (the data changed)."""
        if self._entries:
            self.invalidations += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> dict[str, int]:
        """Hits, misses, invalidations and current size."""
        return {"hits": self.hits, "misses": self.misses, "invalidations": self.invalidations, "entries": len(self)}
