"""``customer_order_days``: the materialised order days behind the retention facts (schema version 10).

The facts read from it must equal a recomputation straight from the order rows at any date (before
the first order, in the middle of the history, at the last day, after it), on every backend and
whichever path wrote the table (a load from rows in memory, a refresh from stored orders, the
version-10 migration); a refresh after new orders brings it up to date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import statistics
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text

from app.errors import ProviderError
from app.providers.data_agent import DataAgent
from app.providers.production import ProductionDataProvider
from app.retention.facts import CustomerRetention, retention_facts
from app.storage.admin import init_database, refresh_database, store_rows, writable_connection
from app.storage.importer import import_exports
from app.storage.migrations import LATEST_VERSION, schema_version
from app.storage.order_days import NO_NEXT_DAY, OrderDays, median_of_sorted
from app.storage.queries import as_date
from app.storage.schema import customer_order_days, orders, refunds
from app.world.retail import retail_rows
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)
from tests.test_production_import import EXAMPLE_FILES, MAPPING

ROWS = retail_rows(customers=60, orders=500, seed=11)
FIRST = min(o["ordered_on"] for o in ROWS["orders"])
LAST = max(o["ordered_on"] for o in ROWS["orders"])
DATES = [FIRST - dt.timedelta(days=1), FIRST, FIRST + (LAST - FIRST) / 3, LAST - dt.timedelta(days=95), LAST,
         LAST + dt.timedelta(days=40)]  # fmt: skip


def base_facts(rows: dict[str, list[dict[str, Any]]], d: dt.date) -> dict[str, tuple]:
    """customer -> (first, last, orders, net revenue, value proxy, recent orders, order days, median gap),
    from the order and refund rows alone (DESIGN.md section 9, thresholds as in the data file)."""
    per: dict[str, list[tuple[dt.date, int]]] = {}
    for o in rows["orders"]:
        if o["status"] in ("paid", "refunded") and o["ordered_on"] <= d:
            per.setdefault(o["customer_id"], []).append((o["ordered_on"], o["amount_cents"]))
    returned: dict[str, int] = {}
    for r in rows.get("refunds", []):
        if r["refunded_on"] <= d:
            returned[r["customer_id"]] = returned.get(r["customer_id"], 0) + r["amount_cents"]
    out = {}
    for cid, items in per.items():
        days = sorted({day for day, _ in items})
        gaps = [(b - a).days for a, b in itertools.pairwise(days)]
        out[cid] = (
            days[0],
            days[-1],
            len(items),
            sum(a for _, a in items) - returned.get(cid, 0),
            sum(a for day, a in items if day > d - dt.timedelta(days=365)),
            sum(1 for day, _ in items if day > d - dt.timedelta(days=90)),
            len(days),
            float(statistics.median(gaps)) if gaps else None,
        )
    return out


def read_facts(provider: Any, d: dt.date) -> dict[str, tuple]:
    facts = provider.read_source(lambda conn: retention_facts(conn, d))
    return {
        c.customer_id: (c.first_order_date, c.last_order_date, c.total_orders, c.total_revenue, c.value_proxy,
                        c.recent_orders, c.order_days, c.median_gap_days)
        for c in facts
    }  # fmt: skip


def table_rows(url: str) -> list[tuple]:
    t = customer_order_days
    with writable_connection(url) as conn:
        return [tuple(r) for r in conn.execute(select(t).order_by(t.c.customer_id, t.c.day))]


def fill(url: str, rows: dict) -> str:
    init_database(url)
    with writable_connection(url) as conn:
        store_rows(conn, rows, kind="import", source="test", url=url)
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return fill(f"sqlite:///{tmp_path / 'shop.db'}", ROWS)
    return fill(request.getfixturevalue("pg_schemas").new("order_days"), ROWS)


def test_accumulator_running_totals_and_prefix_medians() -> None:
    acc = OrderDays()
    day = dt.date(2025, 3, 1)
    for offset, n, amount in [(0, 2, 700), (4, 1, 100), (0, 1, 50), (5, 1, 10), (15, 3, 300), (17, 1, 1)]:
        acc.add("b", day + dt.timedelta(days=offset), n, amount)
    acc.add("a", day, 1, 5)
    rows = acc.rows()
    assert [(r["customer_id"], r["day"]) for r in rows] == [("a", day)] + [
        ("b", day + dt.timedelta(days=k)) for k in (0, 4, 5, 15, 17)
    ]
    b = rows[1:]
    assert [r["orders_to_date"] for r in b] == [3, 4, 5, 8, 9]
    assert [r["amount_to_date"] for r in b] == [750, 850, 860, 1160, 1161]
    assert [r["day_number"] for r in b] == [1, 2, 3, 4, 5]
    assert [r["median_gap_days"] for r in b] == [None, 4.0, 2.5, 4.0, 3.0]  # gaps 4, 1, 10, 2
    assert [r["next_day"] for r in b] == [r["day"] for r in b[1:]] + [NO_NEXT_DAY]
    assert {r["first_day"] for r in b} == {day}


@pytest.mark.parametrize("values", [[], [3], [1, 2], [1, 2, 9], [0, 0, 5, 7]])
def test_median_of_sorted_is_the_statistics_median(values: list[int]) -> None:
    assert median_of_sorted(values) == (float(statistics.median(values)) if values else None)


def test_facts_equal_the_order_rows_at_every_date(url: str) -> None:
    provider = ProductionDataProvider(url, allow_writable_user=True)
    try:
        for d in DATES:
            expected = base_facts(ROWS, d)
            assert read_facts(provider, d) == expected, d
        assert not base_facts(ROWS, DATES[0]) and len(base_facts(ROWS, LAST)) > 40  # empty, then most customers
    finally:
        provider.close()


def test_generated_world_facts_equal_its_order_rows() -> None:
    agent = DataAgent.create("churn_spike", "sarah_chen", seed=2)
    end = agent.default_as_of()
    for d in (end - dt.timedelta(days=200), end - dt.timedelta(days=37), end):
        expected = base_facts(agent.world.tables, d)
        assert expected and read_facts(agent, d) == expected, d


def test_refresh_and_migration_rebuild_the_same_table(tmp_path) -> None:
    url = fill(f"sqlite:///{tmp_path / 'shop.db'}", ROWS)
    loaded = table_rows(url)  # written from the rows in memory
    assert len(loaded) == len({(o["customer_id"], o["ordered_on"]) for o in ROWS["orders"]
                               if o["status"] in ("paid", "refunded")})  # fmt: skip
    refresh_database(url)  # recomputed from the stored orders
    assert table_rows(url) == loaded
    with writable_connection(url) as conn:  # back to the version-9 shape
        conn.execute(text("DROP TABLE customer_order_days"))
        conn.execute(schema_version.delete().where(schema_version.c.version >= 10))
    with pytest.raises(ProviderError, match=rf"older than the {LATEST_VERSION} .*run `cjsim db init"):
        ProductionDataProvider(url, allow_writable_user=True)
    assert [m.version for m in init_database(url)[0]] == list(range(10, LATEST_VERSION + 1))
    assert table_rows(url) == loaded


def test_refresh_after_new_orders_updates_the_facts(tmp_path) -> None:
    cut = LAST - dt.timedelta(days=30)
    late = [o for o in ROWS["orders"] if o["ordered_on"] > cut]
    late_ids = {o["order_id"] for o in late}
    late_refunds = [r for r in ROWS["refunds"] if r["order_id"] in late_ids]
    early = {**ROWS, "orders": [o for o in ROWS["orders"] if o["ordered_on"] <= cut],
             "refunds": [r for r in ROWS["refunds"] if r["order_id"] not in late_ids]}  # fmt: skip
    url = fill(f"sqlite:///{tmp_path / 'shop.db'}", early)
    with writable_connection(url) as conn:  # new orders (and their refunds) written by another tool
        conn.execute(insert(orders), late)
        if late_refunds:
            conn.execute(insert(refunds), late_refunds)
    with pytest.raises(ProviderError, match="cjsim db refresh"):
        ProductionDataProvider(url, allow_writable_user=True)
    refresh_database(url)
    provider = ProductionDataProvider(url, allow_writable_user=True)
    try:
        for d in (cut, LAST):
            assert read_facts(provider, d) == base_facts(ROWS, d), d
    finally:
        provider.close()
    refunded = {r["order_id"] for r in ROWS["refunds"]}
    gone = [o["order_id"] for o in late if o["order_id"] not in refunded]
    with writable_connection(url) as conn:  # and orders removed
        conn.execute(delete(orders).where(orders.c.order_id.in_(gone)))
    refresh_database(url)
    provider = ProductionDataProvider(url, allow_writable_user=True)
    kept = {**ROWS, "orders": [o for o in ROWS["orders"] if o["order_id"] not in set(gone)]}
    try:
        assert gone and read_facts(provider, LAST) == base_facts(kept, LAST)
    finally:
        provider.close()


def test_facts_are_ordinary_frozen_dataclasses(tmp_path) -> None:
    provider = ProductionDataProvider(fill(f"sqlite:///{tmp_path / 'shop.db'}", ROWS), allow_writable_user=True)
    try:
        facts = provider.read_source(lambda conn: retention_facts(conn, LAST))
    finally:
        provider.close()
    c = facts.customers[0]
    rebuilt = CustomerRetention(**{f.name: getattr(c, f.name) for f in dataclasses.fields(c)})
    assert c == rebuilt and hash(c) == hash(rebuilt) and dataclasses.replace(c) == c
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.total_orders = 0  # type: ignore[misc]


def test_an_import_writes_the_table_from_the_files(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'import.db'}"
    init_database(url)
    import_exports(url, EXAMPLE_FILES, MAPPING)  # what `cjsim db import` runs
    with writable_connection(url) as conn:
        stored = {
            "orders": [dict(r._mapping) for r in conn.execute(select(orders))],
            "refunds": [dict(r._mapping) for r in conn.execute(select(refunds))],
        }
    for rows in stored.values():
        for r in rows:
            for key in ("ordered_on", "refunded_on"):
                if key in r:
                    r[key] = as_date(r[key])
    last = max(o["ordered_on"] for o in stored["orders"])
    provider = ProductionDataProvider(url, allow_writable_user=True)
    try:
        for d in (last - dt.timedelta(days=60), last):
            expected = base_facts(stored, d)
            assert expected and read_facts(provider, d) == expected, d
    finally:
        provider.close()
