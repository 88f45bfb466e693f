"""Tables derived from the base rows by packages above storage, refreshed with every load.

A load, import or refresh (:mod:`app.storage.admin`) materialises the customer facts itself and
then every registered :class:`Derived`: a package above storage (customer health,
``app.health.store``) registers its materialiser when it is imported, so storage never imports it.
Every provider and CLI command imports the registered packages before data is loaded; a caller of
:func:`app.storage.admin.store_rows` that imports none of them gets no derived rows, and the views
then compute the same numbers in memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Connection

__all__ = ["Derived", "DERIVED", "register_derived"]


@dataclass(frozen=True)
class Derived:
    """One family of derived tables: how to empty them and how to fill them after a load."""

    name: str
    drop: Callable[[Connection], None]
    """Delete every materialised row."""
    materialize: Callable[[Connection, dt.date, dt.date | None], list[dt.date]]
    """Fill the rows given the data's latest and first day; returns the dates materialised."""


DERIVED: dict[str, Derived] = {}
"""Registered derived tables by name, in registration order."""


def register_derived(derived: Derived) -> None:
    """Add (or replace) a family of derived tables."""
    DERIVED[derived.name] = derived
