"""Scenarios and merchant personas, one file each in ``scenarios/`` and ``merchants/`` of a data folder.

Both kinds are held by an :class:`ItemCatalog` inside the :class:`~app.catalog.Catalog`, the same
lookup a user's own data folder goes through; unknown names raise
:class:`~app.errors.UnknownNameError` listing the valid ones. The functions below are shortcuts
to the default catalog (``Catalog.default()``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Generic, TypeVar

from app.datafiles import load_model
from app.errors import DataFileError, UnknownNameError
from app.models import Persona, Scenario

__all__ = ["ItemCatalog", "scenarios", "personas", "get_scenario", "get_persona"]

T = TypeVar("T", Persona, Scenario)


class ItemCatalog(Generic[T]):
    """Every ``*.yaml`` file of one folder, validated as one model type and keyed by id.

    Example:
        >>> from app.datafiles import data_dir
        >>> cat = ItemCatalog.load("scenario", data_dir() / "scenarios", Scenario)
        >>> cat.get("growth_stall").stress_level
        <StressLevel.high: 'high'>
    """

    def __init__(self, kind: str, items: dict[str, T]) -> None:
        self.kind = kind
        self._items: dict[str, T] = items

    @classmethod
    def load(cls, kind: str, folder: Path, model: type[T]) -> ItemCatalog[T]:
        """Read and validate every ``*.yaml`` of ``folder``; a file's ``id`` must be its file name."""
        if not folder.is_dir():
            raise DataFileError(f"{folder}: {kind} folder not found; add it to the data folder")
        items: dict[str, T] = {}
        for path in sorted(folder.glob("*.yaml")):
            item = load_model(path, model)
            if item.id != path.stem:
                raise DataFileError(f"{path}: field 'id': is {item.id!r} but must equal the file name {path.stem!r}")
            items[item.id] = item
        if not items:
            raise DataFileError(f"{folder}: no {kind} files (*.yaml); add at least one")
        return cls(kind, items)

    def names(self) -> list[str]:
        """Sorted ids."""
        return sorted(self._items)

    def all(self) -> list[T]:
        """Every item, sorted by id."""
        return [self._items[k] for k in sorted(self._items)]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def get(self, name: str) -> T:
        """Look up by id (or, for personas, display or business name, case-insensitively)."""
        items = self._items
        if name in items:
            return items[name]
        key = _normalise(name)
        for item in items.values():
            aliases = {item.id, getattr(item, "display_name", ""), getattr(item, "business_name", "")}
            if key in {_normalise(a) for a in aliases if a}:
                return item
        raise UnknownNameError(self.kind, name, items)


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def scenarios() -> ItemCatalog[Scenario]:
    """The scenarios of the default catalog."""
    from app.catalog import Catalog  # the catalog imports this module

    return Catalog.default().scenarios


def personas() -> ItemCatalog[Persona]:
    """The merchant personas of the default catalog."""
    from app.catalog import Catalog

    return Catalog.default().personas


def get_scenario(name: str) -> Scenario:
    """Scenario by id; raises :class:`UnknownNameError` listing valid ids."""
    return scenarios().get(name)


def get_persona(name: str) -> Persona:
    """Persona by id, display name ('Marcus Thompson') or business name."""
    return personas().get(name)
