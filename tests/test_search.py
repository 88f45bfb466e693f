"""Ticket search matches words literally, identically on the DataAgent, a SQLite file and PostgreSQL.

A few tickets of a generated world get subjects holding LIKE's wildcards (``%``, ``_``) and its
escape character (``/``); every provider must find exactly the tickets a plain substring test
finds, and refuse a query with no word instead of returning every ticket.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from app.agents.data_agent import DataAgent, resolve_context
from app.errors import InvalidArgumentError
from app.providers.production import ProductionDataProvider
from app.scenarios import get_persona, get_scenario
from app.storage.admin import init_database, store_rows, writable_connection
from app.tools import build_tools, tool_error_message
from app.world.generator import generate_world
from app.world.world import WorldSpec, end_of_day
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)

PLANTED = ["Refund 50% of my box", "Order_42 never arrived", "Box 3/4 came damaged", "100%_sure/really", "50 boxes"]
QUERIES = ["%", "50%", "order_42", "3/4", "/", "_sure", "%_", "box", "50", "Box 3/4"]
BLANK = ["_", "   ", "__ _", "\t"]


@pytest.fixture(scope="module")
def world():
    scenario, persona = get_scenario("growth_stall"), get_persona("marcus_thompson")
    spec = WorldSpec(scenario=scenario, persona=persona, context=resolve_context(persona, scenario, None), seed=0)
    w = generate_world(spec)
    known = [t for t in w.tables["support_tickets"] if t["created_at"] < end_of_day(w.as_of)]
    for ticket, subject in zip(known[-len(PLANTED):], PLANTED, strict=True):
        ticket["subject"] = subject
    return w


@pytest.fixture(scope="module", params=["data_agent", "sqlite", "postgres"])
def provider(request, world, tmp_path_factory) -> Iterator:
    if request.param == "data_agent":
        p = DataAgent(world)
    else:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('search') / 'shop.db'}"
        else:
            url = request.getfixturevalue("pg_schemas").new("search")
        init_database(url)
        with writable_connection(url) as conn:
            store_rows(conn, world.snapshot(), kind="load", source="search test", url="test")
        p = ProductionDataProvider(url, allow_writable_user=True)
    yield p
    if hasattr(p, "close"):
        p.close()


def _expected(world, query: str) -> list[str]:
    """Ids of known tickets whose lower-cased subject or category holds every word, newest first."""
    words = query.lower().replace("_", " ").split()
    end = end_of_day(world.as_of)
    hits = [
        t for t in world.tables["support_tickets"]
        if t["created_at"] < end and all(w in f"{t['subject'].lower()}\n{t['category'].lower()}" for w in words)
    ]  # fmt: skip
    hits.sort(key=lambda t: (t["created_at"], t["ticket_id"]), reverse=True)
    return [t["ticket_id"] for t in hits]


@pytest.mark.parametrize("query", QUERIES)
def test_wildcards_and_the_escape_character_match_literally(provider, world, query: str) -> None:
    expected = _expected(world, query)
    found = provider.search_tickets(query, limit=50)
    assert found.total == len(expected)
    assert [t.ticket_id for t in found.tickets] == expected[:50]
    assert found.total < len(world.tables["support_tickets"])  # never "everything"


@pytest.mark.parametrize("query", BLANK)
def test_a_query_without_words_is_refused(provider, query: str) -> None:
    with pytest.raises(InvalidArgumentError, match="at least one word"):
        provider.search_tickets(query)


def test_the_tool_reports_a_blank_query_to_the_model(provider) -> None:
    (tool,) = build_tools(provider, ["search_tickets"])
    with pytest.raises(Exception) as err:
        tool.invoke({"id": "c1", "name": "search_tickets", "args": {"query": "_"}, "type": "tool_call"})
    # what the graph's tool node sends back to the model instead of every ticket
    assert "query: Value error, give at least one word" in tool_error_message(err.value)


def test_planted_subjects_are_where_the_test_expects(world) -> None:
    assert all(_expected(world, subject) for subject in PLANTED)
    assert isinstance(world.as_of, dt.date)
