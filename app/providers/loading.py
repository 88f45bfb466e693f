"""Loading a generated world into a database, as an export taken at its ``as_of`` would hold it.

The library function behind ``cjsim db load``: it generates the world of a scenario and a
merchant from the catalog (like the :class:`~app.providers.data_agent.DataAgent`, which keeps
its world in memory instead) and stores it with :func:`app.storage.admin.store_rows` in one
transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy.engine import URL

from app.catalog import Catalog
from app.errors import InvalidArgumentError
from app.models import BusinessStage, StressLevel
from app.storage.admin import LoadReport, store_rows, writable_connection
from app.storage.url import mask_url, parse_url
from app.world.context import resolve_context
from app.world.generator import generate_world
from app.world.world import WorldSpec

__all__ = ["load_world"]


def load_world(
    url: str | URL,
    scenario: str,
    merchant: str,
    *,
    seed: int = 0,
    stage: BusinessStage | str | None = None,
    stress: StressLevel | str | None = None,
    subscribers: int | None = None,
    replace: bool = False,
    progress: Callable[[str], None] | None = None,
    catalog: Catalog | None = None,
) -> LoadReport:
    """Generate a synthetic world and store it as a database exported at its ``as_of`` would hold it.

    ``scenario`` and ``merchant`` are names in ``catalog`` (default: ``Catalog.default()``).
    """
    catalog = catalog or Catalog.default()
    sc, persona = catalog.scenarios.get(scenario), catalog.personas.get(merchant)
    if seed < 0:
        raise InvalidArgumentError(f"seed must be a non-negative integer, got {seed}")
    if subscribers is not None and not 50 <= subscribers <= 1_000_000:
        raise InvalidArgumentError(f"subscribers must be between 50 and 1,000,000, got {subscribers}")
    context = resolve_context(persona, sc, {"business_stage": stage, "stress_level": stress})
    t0 = time.perf_counter()
    world = generate_world(WorldSpec(scenario=sc, persona=persona, context=context, seed=seed, subscribers=subscribers))
    generated = time.perf_counter() - t0
    if progress:
        progress(f"generated {sum(len(r) for r in world.tables.values()):,} rows in {generated:.1f}s")
    source = f"scenario={sc.id} merchant={persona.id} seed={seed}"
    if subscribers:
        source += f" subscribers={subscribers}"
    display = mask_url(parse_url(url))
    with writable_connection(url) as conn:
        return store_rows(conn, world.snapshot(), kind="load", source=source, url=display, replace=replace)
