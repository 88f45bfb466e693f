"""Backtesting a stored run against outcomes imported from a real launch (app/experiments/imported.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.errors import DataFileError, InvalidArgumentError
from app.experiments import (
    InterventionSpec,
    WorldKey,
    backtest_imported,
    calibration_rows,
    potential_outcomes,
    read_outcomes,
    record_run,
    run_experiment,
    simulation_run_rows,
)
from app.experiments.records import SimulationRunRow
from app.storage.ops import OpsStore
from app.world.effects import load_intervention_effects
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "imported_outcomes" / "realised_outcomes.csv"

HAND_MADE = """customer_id,group,retained,converted,revenue_cents,segment
c1,treated,1,1,1000,a
c2,treated,1,0,0,b

c3,TREATED,0,1,500,a
c4,holdout,1,0,0,a
c5,holdout,0,0,0,b
"""
"""Treated: retained 2/3, converted 2/3, revenue 1500/3 = 500; holdout: 1/2, 0, 0.
Segment a: 750 - 0 = 750; segment b: 0 - 0 = 0."""


def _run(intervals: dict, segments: dict[str, float] | None = None, run_id: int = 3) -> SimulationRunRow:
    return SimulationRunRow(run_id=run_id, name="hand", action="loyalty_discount", parameters={},
                            predicted_outcomes={"segments": segments or {}}, intervals=intervals, recommendations=[],
                            iterations=10, duration_ms=0, llm_tokens=None, llm_cost_cents=None)  # fmt: skip


def _iv(estimate: float, low: float, high: float) -> dict[str, float]:
    return {"estimate": estimate, "se": 0.0, "low": low, "high": high}


HAND_RUN = _run(
    {"pooled": {"retained": _iv(0.1, 0.05, 0.15), "converted": _iv(0.5, 0.4, 0.6), "revenue_cents": _iv(400, 300, 500)},
     "prediction": {"retained": _iv(0.1, 0.0, 0.2), "converted": _iv(0.5, 0.1, 0.6), "revenue_cents": _iv(400, -100, 900)}},
    segments={"a": 300.0, "b": 100.0},
)  # fmt: skip


def _write(tmp_path: Path, text: str, name: str = "outcomes.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- known answers


def test_calibration_by_hand(tmp_path: Path) -> None:
    outcomes = read_outcomes(_write(tmp_path, HAND_MADE))
    assert (outcomes.treated, outcomes.holdout, len(outcomes.rows)) == (3, 2, 5)
    c = backtest_imported(HAND_RUN, outcomes)
    assert c.realised == pytest.approx({"retained": 2 / 3 - 1 / 2, "converted": 2 / 3, "revenue_cents": 500.0})
    assert c.predicted == {"retained": 0.1, "converted": 0.5, "revenue_cents": 400}
    assert c.error == pytest.approx(-100.0) and c.relative_error == pytest.approx(-0.2)
    # retention 1/6 in [0, 0.2], conversion 2/3 outside [0.1, 0.6], revenue 500 in [-100, 900]
    assert c.interval_coverage == pytest.approx(2 / 3)
    assert outcomes.segment_effects() == {"a": 750.0, "b": 0.0}
    assert c.ranking_accuracy == 1.0  # a above b, predicted and realised
    assert c.per_world == {"outcomes.csv": c.realised}
    assert c.realised_source == "imported outcomes outcomes.csv: 3 treated, 2 holdout"
    reversed_run = _run(HAND_RUN.intervals, segments={"a": 100.0, "b": 300.0})
    assert backtest_imported(reversed_run, outcomes).ranking_accuracy == 0.0


def test_without_segments_there_is_no_ranking(tmp_path: Path) -> None:
    text = "\n".join(",".join(line.split(",")[:5]) for line in HAND_MADE.splitlines()) + "\n"
    c = backtest_imported(HAND_RUN, read_outcomes(_write(tmp_path, text)))
    assert c.ranking_accuracy is None and c.error == pytest.approx(-100.0)
    no_segments_run = _run(HAND_RUN.intervals)  # a run that stored no segment estimates
    assert backtest_imported(no_segments_run, read_outcomes(_write(tmp_path, HAND_MADE))).ranking_accuracy is None


def test_both_groups_and_a_prediction_interval_are_needed(tmp_path: Path) -> None:
    treated_only = _write(tmp_path, "customer_id,group,retained,converted,revenue_cents\nc1,treated,1,1,5\n")
    with pytest.raises(InvalidArgumentError, match="has no holdout rows"):
        backtest_imported(HAND_RUN, read_outcomes(treated_only))
    holdout_only = _write(tmp_path, "customer_id,group,retained,converted,revenue_cents\nc1,holdout,1,1,5\n")
    with pytest.raises(InvalidArgumentError, match="has no treated rows"):
        backtest_imported(HAND_RUN, read_outcomes(holdout_only))
    one_iteration = _run({"pooled": HAND_RUN.intervals["pooled"], "prediction": {}})
    with pytest.raises(InvalidArgumentError, match="no prediction interval"):
        backtest_imported(one_iteration, read_outcomes(_write(tmp_path, HAND_MADE)))


# --------------------------------------------------------------------------- malformed files


def test_malformed_rows_are_refused_with_their_lines(tmp_path: Path) -> None:
    text = ("customer_id,group,retained,converted,revenue_cents\n"
            "c1,treated,1,1,100\n"
            "c2,control,1,1,100\n"       # line 3
            "c3,holdout,1,1,12.50\n"     # line 4
            "c4,holdout,2,1,100\n"       # line 5
            "c1,holdout,1,0,0\n"         # line 6
            "c6,holdout,1,0\n")          # line 7  # fmt: skip
    with pytest.raises(DataFileError) as err:
        read_outcomes(_write(tmp_path, text))
    message = str(err.value)
    assert "5 malformed row(s)" in message
    assert "outcomes.csv:3: group 'control' is not one of treated, holdout" in message
    assert "outcomes.csv:4: revenue_cents '12.50' is not a whole number of cents" in message
    assert "outcomes.csv:5: retained '2' is not 0 or 1" in message
    assert "and 2 more" in message and "\n" not in message


@pytest.mark.parametrize(("text", "phrase"), [
    ("customer_id,group,retained,revenue_cents\n", ":1: missing column(s) converted"),
    ("customer_id,group,retained,converted,revenue_cents,channel\n", ":1: unknown column(s) channel"),
    ("", "empty file"),
    ('customer_id,group,retained,converted,revenue_cents\n"c1,treated,1,1,5\n', "malformed CSV"),
    ("customer_id,group,retained,converted,revenue_cents\n,treated,1,1,5\n", ":2: customer_id is empty"),
])  # fmt: skip
def test_bad_files_name_the_problem(tmp_path: Path, text: str, phrase: str) -> None:
    with pytest.raises(DataFileError) as err:
        read_outcomes(_write(tmp_path, text))
    assert phrase in str(err.value)


def test_missing_file_and_other_encodings(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="cannot read file"):
        read_outcomes(tmp_path / "nowhere.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("customer_id,group,retained,converted,revenue_cents\nc1,treated,1,1,5\nR\xe9my,holdout,1,1,5\n".encode("latin-1"))
    with pytest.raises(DataFileError, match="latin.csv:3: not valid UTF-8 .byte 0xe9.; save the file as UTF-8"):
        read_outcomes(latin)


# --------------------------------------------------------------------------- stored runs, through the CLI


@pytest.fixture(scope="module")
def small_result():
    spec = InterventionSpec(name="discount", action="loyalty_discount", segments=["deal_seeker", "casual"])
    world = WorldKey("steady_operations", "marcus_thompson", 0)
    po = potential_outcomes(world, spec, load_intervention_effects())
    return run_experiment(spec, [world], 12, outcomes={world: po})


def _backtest_through_the_cli(url: str, small_result) -> None:
    import datetime as dt

    store = OpsStore.from_url(url)
    run_id = record_run(store, small_result, started_at=dt.datetime(2025, 5, 1, 12), seed=0)
    args = ["simulate", "backtest", "--run-id", str(run_id), "--outcomes", str(EXAMPLE), "--ops-url", url]
    first = runner.invoke(app, [*args, "--json"])
    assert first.exit_code == 0, first.output
    out = json.loads(first.output)
    expected = backtest_imported(simulation_run_rows(store)[0], read_outcomes(EXAMPLE))
    assert out["backtest"] == expected.to_dict()
    assert (out["treated"], out["holdout"]) == (237, 102)
    (row,) = calibration_rows(store, run_id)
    assert row["calibration_id"] == out["calibration_id"]
    assert row["realised_source"] == "imported outcomes realised_outcomes.csv: 237 treated, 102 holdout"
    assert row["error"] == pytest.approx(expected.error) and row["interval_coverage"] == expected.interval_coverage
    assert row["ranking_accuracy"] == expected.ranking_accuracy
    assert row["details"]["metrics"]["revenue_cents"]["realised"] == pytest.approx(63.946389)
    text = runner.invoke(app, args)
    flat = " ".join(text.output.split())
    assert text.exit_code == 0, text.output
    assert "237 treated, 102 held out" in flat and "backtest on realised_outcomes.csv: realised revenue uplift 0.64" in flat
    assert f"kept as calibration #{out['calibration_id'] + 1} of simulation run #{run_id}" in flat
    again = runner.invoke(app, [*args, "--json"])
    assert json.loads(again.output)["backtest"] == out["backtest"]  # the same figures every time
    unknown = runner.invoke(app, [*args[:2], "--run-id", "99", *args[4:]])
    assert unknown.exit_code == 2 and f"unknown simulation run 99; runs in this store: {run_id}" in " ".join(unknown.output.split())


def test_cli_backtest_in_sqlite(small_result, tmp_path: Path) -> None:
    _backtest_through_the_cli(f"sqlite:///{tmp_path / 'ops.db'}", small_result)


def test_cli_backtest_in_postgres(small_result, pg_schemas) -> None:  # noqa: F811
    _backtest_through_the_cli(pg_schemas.new("imported"), small_result)


# --------------------------------------------------------------------------- the example file


def test_example_file_is_what_its_script_writes(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("generate_outcomes", EXAMPLE.with_name("generate.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "again.csv"
    assert module.write_outcomes(out) == 339
    assert out.read_bytes() == EXAMPLE.read_bytes()
