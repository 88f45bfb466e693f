"""Conformance: every view gives identical results from every provider of the same world.

One shared suite, parametrized over worlds (scenarios x personas), view argument sets and
backends. The reference is the DataAgent (generated world in an in-memory SQLite database that
also holds the world's near future, customer facts computed in memory). Each backend holds the
world as a database exported at its ``as_of`` would (``world.snapshot()``), loaded through the
production path, and answers through :class:`ProductionDataProvider` (read-only engine,
materialised summaries and customer facts):

* ``sqlite`` - a SQLite file;
* ``postgres`` - a private schema on ``$CJSIM_TEST_PG_URL`` (skipped without it, unless
  ``CJSIM_REQUIRE_POSTGRES=1``).

Views are compared at the default ``as_of`` (both providers agree on it) and at an earlier date,
where the production provider has no stored customer facts and computes them in memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from app.agents.data_agent import DataAgent
from app.errors import CJSimError
from app.providers.loading import load_world
from app.providers.production import ProductionDataProvider
from app.storage.admin import init_database, store_rows, writable_connection
from tests.pg_support import PgSchemas, pg_base_url, skip_or_fail

WORLDS = [
    ("growth_stall", "marcus_thompson", 0),
    ("growth_stall", "zoe_martinez", 1),
    ("churn_spike", "sarah_chen", 2),
    ("churn_spike", "marcus_thompson", 3),
    ("shipping_crisis", "zoe_martinez", 4),
    ("shipping_crisis", "sarah_chen", 5),
]
"""3 scenarios x 2 personas each, with different seeds."""

CASES: list[tuple[str, dict[str, Any]]] = [
    ("daily_briefing", {}),
    ("ticket_metrics", {}),
    ("ticket_metrics", {"time_range": "24h"}),
    ("ticket_metrics", {"time_range": "90d", "category": "shipping_delay"}),
    ("financial_metrics", {}),
    ("financial_metrics", {"time_range": "7d"}),
    ("financial_metrics", {"time_range": "90d", "include_cohorts": True}),
    ("order_metrics", {}),
    ("order_metrics", {"time_range": "7d"}),
    ("order_metrics", {"time_range": "90d"}),
    ("customer_segment", {"segment": "high_value"}),
    ("customer_segment", {"segment": "at_risk", "depth": "detailed"}),
    ("customer_segment", {"segment": "new"}),
    ("customer_segment", {"segment": "churned", "depth": "detailed"}),
    ("crisis_analysis", {}),
    ("crisis_analysis", {"crisis_type": "churn", "include_historical": True}),
    ("crisis_analysis", {"crisis_type": "shipping"}),
    ("crisis_analysis", {"crisis_type": "payment", "include_historical": True}),
    ("crisis_analysis", {"crisis_type": "refunds", "include_historical": True}),
    ("crisis_analysis", {"crisis_type": "orders"}),
    ("detect_anomalies", {}),
    ("detect_anomalies", {"sensitivity": "high", "metrics": ["tickets", "cancellations", "failed_payments"]}),
    ("detect_anomalies", {"sensitivity": "high", "metrics": ["orders", "refunds"]}),
    ("customer_list", {}),
    ("customer_list", {"filter": "at_risk", "sort_by": "risk", "limit": 50}),
    ("customer_list", {"filter": "all", "sort_by": "name", "limit": 100}),
    ("customer_list", {"filter": "churned", "sort_by": "recent", "limit": 20}),
    ("customer_list", {"filter": "new", "sort_by": "tenure", "limit": 20}),
    ("customer_list", {"filter": "order_at_risk", "sort_by": "ltv", "limit": 30}),
    ("customer_list", {"filter": "order_active", "sort_by": "recent", "limit": 20}),
    ("customer_list", {"filter": "order_inactive", "sort_by": "tenure", "limit": 20}),
    ("customer_profile", {"pick": "riskiest"}),
    ("customer_profile", {"pick": "top_ltv"}),
    ("customer_profile", {"pick": "churned"}),
    ("search_tickets", {"query": "box"}),
    ("search_tickets", {"query": "late shipping", "limit": 50}),
    ("business_timeline", {}),
    ("business_timeline", {"days_before": 120, "days_after": 30}),
    ("get_notes", {}),
    ("get_notes", {"customer_id": "C000001", "limit": 5}),
    ("get_alert_decision", {}),
    ("get_operational_context", {}),
    ("generate_brief", {}),
    ("generate_brief", {"format": "markdown"}),
    ("generate_brief", {"format": "email"}),
    ("data_quality", {}),
    ("customer_health", {}),
    ("customer_health", {"customer_id": "C000001"}),
    ("health_overview", {}),
    ("alerts", {}),
    ("alerts", {"severity": ["critical", "high"], "limit": 50}),
    ("alerts", {"alert_type": ["upsell_opportunity"], "status": "open", "limit": 5}),
    ("journey_overview", {}),
    ("customer_journey", {"customer_id": "C000001"}),
    ("customer_journey", {"customer_id": "C000042"}),
    ("churn_forecast", {}),
    ("churn_forecast", {"journey_stage": "churn_risk", "limit": 5}),
    ("playbooks", {}),
    ("playbook_performance", {}),
    ("portfolio_snapshot", {}),
]
"""Every view, with two or more argument sets."""

BACKENDS = ["sqlite", "postgres"]


def test_every_registered_view_is_covered() -> None:
    from app.views import VIEWS

    assert set(VIEWS) == {view for view, _ in CASES}, "add argument sets for every view to CASES"
EARLIER_DAYS = 12
"""The earlier date compared: ``as_of`` minus this many days."""


class Worlds:
    """Each world generated once per session, with its production databases loaded lazily."""

    def __init__(self, tmp_dir) -> None:
        self.tmp_dir = tmp_dir
        self.agents: dict[tuple, DataAgent] = {}
        self.providers: dict[tuple, ProductionDataProvider] = {}
        self._pg: PgSchemas | None = None
        self._pg_error: str | None = None

    def agent(self, world: tuple) -> DataAgent:
        if world not in self.agents:
            scenario, merchant, seed = world
            self.agents[world] = DataAgent.create(scenario, merchant, seed=seed)
        return self.agents[world]

    def _url(self, world: tuple, backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{self.tmp_dir / ('_'.join(map(str, world)) + '.db')}"
        if self._pg is None:
            if self._pg_error is None:
                base = pg_base_url()
                if base is None:
                    self._pg_error = "CJSIM_TEST_PG_URL is not set"
                else:
                    try:
                        self._pg = PgSchemas(base)
                    except Exception as exc:
                        self._pg_error = f"cannot connect to CJSIM_TEST_PG_URL: {str(exc).splitlines()[0]}"
            if self._pg is None:
                skip_or_fail(self._pg_error or "unavailable")
        assert self._pg is not None
        return self._pg.new("conf")

    def provider(self, world: tuple, backend: str) -> ProductionDataProvider:
        key = (world, backend)
        if key not in self.providers:
            url = self._url(world, backend)
            init_database(url)
            if world == WORLDS[0]:
                load_world(url, *world[:2], seed=world[2])  # the CLI's path: generate and store
            else:
                agent = self.agent(world)
                with writable_connection(url) as conn:
                    store_rows(conn, agent.world.snapshot(), kind="load", source="conformance", url="test")
            ops = (
                f"sqlite:///{self.tmp_dir / ('_'.join(map(str, world)) + '_ops.db')}"
                if backend == "sqlite"
                else self._url(world, backend)
            )
            # an empty store, as the agent's is; the test server's user owns the schema it reads
            # (a read-only role is tested in test_read_only.py)
            self.providers[key] = ProductionDataProvider(url, ops_url=ops, allow_writable_user=True)
        return self.providers[key]

    def close(self) -> None:
        for p in self.providers.values():
            p.close()
        if self._pg is not None:
            self._pg.close()


@pytest.fixture(scope="module")
def worlds(tmp_path_factory) -> Iterator[Worlds]:
    w = Worlds(tmp_path_factory.mktemp("conformance"))
    yield w
    w.close()


def _args(agent: DataAgent, view: str, args: dict[str, Any], as_of: dt.date) -> dict[str, Any]:
    """Concrete arguments: customer_profile picks a customer from the reference's own lists."""
    if view != "customer_profile":
        return args
    pick = args["pick"]
    if pick == "riskiest":
        found = agent.customer_list("active", 1, "risk", as_of=as_of).customers
    elif pick == "top_ltv":
        found = agent.customer_list("all", 1, "ltv", as_of=as_of).customers
    else:
        found = agent.customer_list("churned", 1, "recent", as_of=as_of).customers
    assert found, f"no customer to pick for {pick}"
    return {"customer_id": found[0].customer_id}


def _answer(provider, view: str, args: dict[str, Any], as_of: dt.date | None) -> Any:
    try:
        return provider.get_view(view, as_of, **args).to_json()
    except CJSimError as exc:  # identical errors are conformance too
        return f"{type(exc).__name__}: {exc}"


def _case_id(case: tuple[str, dict[str, Any]]) -> str:
    view, args = case
    return view + ("[" + ",".join(f"{k}={v}" for k, v in args.items()) + "]" if args else "")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=_case_id)
@pytest.mark.parametrize("world", WORLDS, ids=lambda w: f"{w[0]}-{w[1]}-{w[2]}")
def test_view_identical_to_data_agent(worlds: Worlds, world: tuple, case: tuple, backend: str) -> None:
    agent = worlds.agent(world)
    provider = worlds.provider(world, backend)
    assert provider.default_as_of() == agent.default_as_of() == agent.world.as_of
    view, raw = case
    args = _args(agent, view, raw, agent.world.as_of)
    expected = _answer(agent, view, args, None)
    assert _answer(provider, view, args, None) == expected
    assert isinstance(expected, dict), f"the reference could not answer: {expected}"


EARLIER_CASES = [
    c
    for c in CASES
    if c[0] in ("daily_briefing", "order_metrics", "customer_segment", "customer_list", "customer_profile",
                "get_alert_decision", "get_operational_context", "generate_brief", "data_quality",
                "customer_health", "health_overview", "alerts")
]  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", EARLIER_CASES, ids=_case_id)
@pytest.mark.parametrize("world", WORLDS[:3], ids=lambda w: f"{w[0]}-{w[1]}-{w[2]}")
def test_earlier_as_of_identical(worlds: Worlds, world: tuple, case: tuple, backend: str) -> None:
    """At a date without stored customer facts the production provider computes them in memory."""
    agent = worlds.agent(world)
    provider = worlds.provider(world, backend)
    day = agent.world.as_of - dt.timedelta(days=EARLIER_DAYS)
    assert day not in provider.materialized_dates()
    view, raw = case
    args = _args(agent, view, raw, day)
    assert _answer(provider, view, args, day) == _answer(agent, view, args, day)


@pytest.mark.parametrize("backend", BACKENDS)
def test_unknown_customer_is_the_same_error(worlds: Worlds, backend: str) -> None:
    agent = worlds.agent(WORLDS[0])
    provider = worlds.provider(WORLDS[0], backend)
    expected = _answer(agent, "customer_profile", {"customer_id": "NOPE"}, None)
    assert expected.startswith("DataUnavailableError")
    assert _answer(provider, "customer_profile", {"customer_id": "NOPE"}, None) == expected
