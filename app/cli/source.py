"""The data-source options that the retention and MCP commands share, declared once.

``@with_source()`` adds ``--scenario/--merchant/--seed`` (a generated world), ``--db-url`` (a
database, read only), ``--ops-url`` (where actions write) and ``--allow-writable-user`` to a Typer
command, and hands the command one :class:`Source` in their place::

    @ops_app.command("alert")
    @with_source()
    def alert_cmd(source: Source, as_json: JsonOpt = False) -> None:
        provider = source.open()

Each command keeps its own options; the shared ones come after them in ``--help``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, get_type_hints

from app.cli.common import (
    AllowWritableOpt,
    DbUrlOpt,
    MerchantOpt,
    OpsUrlOpt,
    ScenarioOpt,
    SeedOpt,
    build_provider,
    load_catalog,
)
from app.views import DataProvider

__all__ = ["Source", "with_source"]


@dataclass(frozen=True)
class Source:
    """Where a command's data comes from: a database when ``db_url`` is set, else a generated world."""

    scenario: str
    merchant: str
    seed: int
    db_url: str | None
    ops_url: str | None
    allow_writable_user: bool

    def open(self, provider: str | None = None) -> DataProvider:
        """The provider: ``provider`` when named, else production with ``db_url`` and the
        generated world without; actions write to ``ops_url``."""
        opened: DataProvider = build_provider(
            provider or ("production" if self.db_url else "data_agent"), self.db_url, self.scenario, self.merchant,
            self.seed, None, None, self.ops_url, allow_writable_user=self.allow_writable_user, catalog=load_catalog(),
        )  # fmt: skip
        return opened


_OPTIONS: dict[str, Any] = {
    "scenario": ScenarioOpt,
    "merchant": MerchantOpt,
    "seed": SeedOpt,
    "db_url": DbUrlOpt,
    "ops_url": OpsUrlOpt,
    "allow_writable_user": AllowWritableOpt,
}
assert list(_OPTIONS) == [f.name for f in fields(Source)]


def with_source(
    scenario: str = "churn_spike", merchant: str = "sarah_chen"
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorator: the command takes the data-source options (defaults: this world) as ``source``."""
    defaults = {"scenario": scenario, "merchant": merchant, "seed": 0, "db_url": None, "ops_url": None,
                "allow_writable_user": False}  # fmt: skip

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        hints = get_type_hints(command, include_extras=True)  # the command's own options, resolved
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in inspect.signature(command).parameters.values()
            if p.name != "source"
        ]
        shared = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=defaults[name], annotation=option)
            for name, option in _OPTIONS.items()
        ]

        @functools.wraps(command)
        def run(**kwargs: Any) -> None:
            source = Source(**{name: kwargs.pop(name) for name in _OPTIONS})
            command(source=source, **kwargs)

        run.__signature__ = inspect.Signature([*own, *shared], return_annotation=None)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in [*own, *shared]} | {"return": None}
        return run

    return decorate
