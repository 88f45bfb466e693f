"""Recompute metrics straight from the exported CSV tables (the independent oracle) and compare with the views."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Date, DateTime, Float, Integer

from app.storage.export import export_tables
from app.storage.schema import TABLES
from tests import oracle
from tests.conftest import cached_agent


def read_csv_tables(folder: Path) -> dict[str, list[dict]]:
    """Rows back from CSV, typed by the schema (empty cells are NULL)."""
    parsers = {Date: dt.date.fromisoformat, DateTime: dt.datetime.fromisoformat, Integer: int, Float: float}
    tables = {}
    for table in TABLES:
        cast = {c.name: next((p for t, p in parsers.items() if isinstance(c.type, t)), str) for c in table.columns}
        with (folder / f"{table.name}.csv").open(newline="", encoding="utf-8") as fh:
            tables[table.name] = [
                {k: (None if v == "" else cast[k](v)) for k, v in row.items()} for row in csv.DictReader(fh)
            ]
    return tables


WORLDS = [("churn_spike", "sarah_chen", 2), ("scaling_chaos", "zoe_martinez", 1), ("growth_stall", "marcus_thompson", 4)]


@pytest.mark.parametrize(("scenario", "merchant", "seed"), WORLDS)
def test_views_equal_a_recomputation_from_exported_tables(tmp_path: Path, scenario: str, merchant: str, seed: int) -> None:
    agent = cached_agent(scenario, merchant, seed)
    export_tables(agent.world.snapshot(agent.clock), tmp_path, "csv")
    rows = read_csv_tables(tmp_path)
    as_of = agent.clock
    for time_range in ("7d", "30d", "90d"):
        view = agent.financial_metrics(time_range).to_json()
        expected = oracle.financial_metrics(rows, as_of, time_range)
        for key in ("mrr", "active_subscribers", "churn_rate", "new_subscribers", "cancellations", "cac", "arpu"):
            assert view[key]["current"] == expected[key]["current"], (time_range, key)
            assert view[key]["previous"] == expected[key]["previous"], (time_range, key)
        tickets = agent.ticket_metrics(time_range).to_json()
        expected_t = oracle.ticket_metrics(rows, as_of, time_range)
        for key in ("created", "csat", "avg_first_response_hours"):
            assert tickets[key]["current"] == expected_t[key]["current"], (time_range, key)
        assert tickets["open"] == expected_t["open"]
    assert agent.customer_segment("at_risk").size == len(oracle.at_risk_customers(rows, as_of))
