"""Simulated experiments: an intervention run as randomised experiments on generated worlds,
against the exact counterfactual (docs/experiments.md).

* :mod:`~app.experiments.spec`: the intervention (strict model, YAML/JSON file or arguments);
* :mod:`~app.experiments.population`: a target population's treated and untreated outcomes;
* :mod:`~app.experiments.runner`: iterations, estimates, 95% intervals, coverage;
* :mod:`~app.experiments.backtest`: a prediction against outcomes realised on held-out worlds;
* :mod:`~app.experiments.imported`: a stored run against outcomes imported from a real launch;
* :mod:`~app.experiments.records`: runs and backtests in the operations store;
* :mod:`~app.experiments.uplift`: T- and X-learners scored against the true individual effects
  (needs ``pip install 'cjsim[uplift]'``).
"""

from app.experiments.backtest import Calibration, backtest, ranking_accuracy
from app.experiments.imported import ImportedOutcomes, RealisedOutcome, backtest_imported, read_outcomes
from app.experiments.population import METRICS, PotentialOutcomes, WorldKey, potential_outcomes
from app.experiments.records import calibration_rows, record_calibration, record_run, simulation_run_rows
from app.experiments.runner import ExperimentResult, IterationResult, run_experiment, world_grid
from app.experiments.spec import InterventionSpec, load_intervention_spec
from app.experiments.stats import Interval

__all__ = [
    "InterventionSpec",
    "load_intervention_spec",
    "WorldKey",
    "PotentialOutcomes",
    "potential_outcomes",
    "METRICS",
    "run_experiment",
    "world_grid",
    "ExperimentResult",
    "IterationResult",
    "Interval",
    "backtest",
    "Calibration",
    "ranking_accuracy",
    "read_outcomes",
    "ImportedOutcomes",
    "RealisedOutcome",
    "backtest_imported",
    "record_run",
    "record_calibration",
    "simulation_run_rows",
    "calibration_rows",
]
