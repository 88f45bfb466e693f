"""Catalog of scenarios and merchant personas, loaded from ``data/scenarios`` and ``data/merchants``.

Both kinds are found through :class:`Catalog`, the same lookup a user's own data folder goes
through; unknown names raise :class:`~app.errors.UnknownNameError` listing the valid ones.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Generic, TypeVar

from app.datafiles import data_dir, load_model
from app.errors import DataFileError, UnknownNameError
from app.models import Persona, Scenario

__all__ = ["Catalog", "scenarios", "personas", "get_scenario", "get_persona"]

T = TypeVar("T", Persona, Scenario)


class Catalog(Generic[T]):
    """Every ``*.yaml`` file of one folder, validated as one model type and keyed by id.

    Example:
        >>> cat = scenarios()
        >>> cat.get("growth_stall").stress_level
        <StressLevel.high: 'high'>
    """

    def __init__(self, kind: str, folder: Path, model: type[T]) -> None:
        self.kind = kind
        self.folder = folder
        self.model = model
        self._items: dict[str, T] | None = None

    def _load(self) -> dict[str, T]:
        if self._items is None:
            if not self.folder.is_dir():
                raise DataFileError(f"{self.folder}: {self.kind} folder not found; set CJSIM_DATA_DIR")
            items: dict[str, T] = {}
            for path in sorted(self.folder.glob("*.yaml")):
                item = load_model(path, self.model)
                if item.id != path.stem:
                    raise DataFileError(
                        f"{path}: field 'id': is {item.id!r} but must equal the file name {path.stem!r}"
                    )
                items[item.id] = item
            self._items = items
        return self._items

    def names(self) -> list[str]:
        """Sorted ids."""
        return sorted(self._load())

    def all(self) -> list[T]:
        """Every item, sorted by id."""
        items = self._load()
        return [items[k] for k in sorted(items)]

    def get(self, name: str) -> T:
        """Look up by id (or, for personas, display or business name, case-insensitively)."""
        items = self._load()
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


@cache
def _scenario_catalog(folder: Path) -> Catalog[Scenario]:
    return Catalog("scenario", folder, Scenario)


@cache
def _persona_catalog(folder: Path) -> Catalog[Persona]:
    return Catalog("merchant", folder, Persona)


def scenarios() -> Catalog[Scenario]:
    """The scenario catalog of the current data folder."""
    return _scenario_catalog(data_dir() / "scenarios")


def personas() -> Catalog[Persona]:
    """The merchant persona catalog of the current data folder."""
    return _persona_catalog(data_dir() / "merchants")


def get_scenario(name: str) -> Scenario:
    """Scenario by id; raises :class:`UnknownNameError` listing valid ids."""
    return scenarios().get(name)


def get_persona(name: str) -> Persona:
    """Persona by id, display name ('Marcus Thompson') or business name."""
    return personas().get(name)
