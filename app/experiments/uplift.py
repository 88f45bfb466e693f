"""Uplift models trained on a simulated experiment and scored against the true individual effects.

An experiment gives, for each customer of the target, the features known at the start day, the arm
and the observed outcome; the world also knows each customer's *true individual effect*
(treated minus untreated outcome, both exact: :mod:`app.experiments.population`). So a learner's
effect estimates can be scored against the truth, not against another estimate:

* **PEHE**: the root mean squared error of the estimated individual effects (precision in
  estimating heterogeneous effects);
* **Qini coefficient**: rank customers by estimated effect; the uplift curve adds up their true
  effects down the ranking; its area above the random ranking's, over the oracle's (ranking by the
  true effects) above the random one's: 1 is the oracle's ranking, 0 no better than chance;
* **AUUC ratio**: the curve's area over the oracle's.

Learners (scikit-learn's histogram gradient boosting as the base model, fixed random state):

* **T-learner**: one outcome model per arm; effect = treated model - holdout model;
* **X-learner** (Künzel et al. 2019): the arm models impute each customer's effect (treated:
  outcome - holdout model; holdout: treated model - outcome), one effect model per arm is fitted on
  those, and the two are blended by the treated share (the propensity, known by design).

scikit-learn is optional: ``pip install 'cjsim[uplift]'``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from app.errors import DataUnavailableError, InvalidArgumentError
from app.experiments.population import FEATURES, PotentialOutcomes
from app.experiments.runner import assign
from app.world.behaviour import SEGMENTS

__all__ = ["UpliftData", "experiment_data", "truth_data", "t_learner", "x_learner", "pehe", "qini", "auuc_ratio",
           "LEARNERS", "Predictor", "feature_names"]  # fmt: skip

Predictor = Callable[[Sequence[Sequence[float]]], list[float]]
"""Features of customers -> their estimated effects."""


@dataclass(frozen=True)
class UpliftData:
    """Customers' features, arm (1 treated), observed outcome and true individual effect."""

    features: list[list[float]]
    treated: list[int]
    outcome: list[float]
    true_effect: list[float]


def _row(po: PotentialOutcomes, i: int) -> list[float]:
    return [float(po.segments[i] == s.hint) for s in SEGMENTS] + list(po.features[i])


def feature_names() -> list[str]:
    """Names of the columns of :attr:`UpliftData.features`."""
    return [f"segment_{s.hint}" for s in SEGMENTS] + list(FEATURES)


def experiment_data(outcomes: Sequence[PotentialOutcomes], metric: str, holdout_share: float = 0.5,
                    seed: int = 0) -> UpliftData:  # fmt: skip
    """One randomised experiment on each world of ``outcomes`` (computed ``with_features``), pooled."""
    data = UpliftData([], [], [], [])
    for k, po in enumerate(outcomes):
        if not po.features:
            raise InvalidArgumentError("uplift data needs potential outcomes computed with_features=True")
        arms = assign(po.size, holdout_share, random.Random(f"cjsim/uplift/{seed}/{k}"))
        effects = po.effects(metric)
        for i in range(po.size):
            data.features.append(_row(po, i))
            data.treated.append(int(arms[i]))
            data.outcome.append(float((po.treated if arms[i] else po.untreated)[metric][i]))
            data.true_effect.append(float(effects[i]))
    return data


def truth_data(outcomes: Sequence[PotentialOutcomes], metric: str) -> UpliftData:
    """Every customer of ``outcomes`` with their true individual effect (no arms: for scoring)."""
    data = UpliftData([], [], [], [])
    for po in outcomes:
        for i, effect in enumerate(po.effects(metric)):
            data.features.append(_row(po, i))
            data.true_effect.append(float(effect))
    return data


def _sklearn() -> tuple[Any, Any]:
    try:
        from sklearn.ensemble import HistGradientBoostingRegressor
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - the dev extra installs it
        raise DataUnavailableError("uplift models need scikit-learn: pip install 'cjsim[uplift]'") from None
    return HistGradientBoostingRegressor, threadpool_limits


class _Model:
    """A shallow, strongly regularised boosted regressor on one thread (OpenMP threads fighting
    over a shared machine's cores made fitting ten times slower, and results must not depend on it)."""

    def __init__(self, x: Sequence[Sequence[float]], y: Sequence[float]) -> None:
        if len(x) < 10:
            raise InvalidArgumentError(f"an arm of {len(x)} customers is too small to fit an outcome model")
        regressor, self._limits = _sklearn()
        self._model = regressor(max_iter=100, learning_rate=0.05, max_depth=3, min_samples_leaf=100,
                                l2_regularization=1.0, random_state=0)  # fmt: skip
        with self._limits(1):
            self._model.fit(x, y)

    def predict(self, x: Sequence[Sequence[float]]) -> list[float]:
        with self._limits(1):
            return [float(v) for v in self._model.predict(x)]


def _fit(x: Sequence[Sequence[float]], y: Sequence[float]) -> _Model:
    return _Model(x, y)


def _arms(data: UpliftData) -> tuple[list[list[float]], list[float], list[list[float]], list[float]]:
    x1 = [f for f, t in zip(data.features, data.treated, strict=True) if t]
    y1 = [y for y, t in zip(data.outcome, data.treated, strict=True) if t]
    x0 = [f for f, t in zip(data.features, data.treated, strict=True) if not t]
    y0 = [y for y, t in zip(data.outcome, data.treated, strict=True) if not t]
    return x1, y1, x0, y0


def t_learner(data: UpliftData) -> Predictor:
    """Fit the T-learner on an experiment; returns the effect predictor."""
    x1, y1, x0, y0 = _arms(data)
    m1, m0 = _fit(x1, y1), _fit(x0, y0)
    return lambda x: [float(a - b) for a, b in zip(m1.predict(x), m0.predict(x), strict=True)]


def x_learner(data: UpliftData) -> Predictor:
    """Fit the X-learner on an experiment; returns the effect predictor."""
    x1, y1, x0, y0 = _arms(data)
    m1, m0 = _fit(x1, y1), _fit(x0, y0)
    d1 = [y - p for y, p in zip(y1, m0.predict(x1), strict=True)]
    d0 = [p - y for y, p in zip(y0, m1.predict(x0), strict=True)]
    tau1, tau0 = _fit(x1, d1), _fit(x0, d0)
    e = len(x1) / len(data.features)
    return lambda x: [float(e * a + (1 - e) * b) for a, b in zip(tau0.predict(x), tau1.predict(x), strict=True)]


LEARNERS: dict[str, Callable[[UpliftData], Predictor]] = {"t_learner": t_learner, "x_learner": x_learner}
"""The uplift learners by name."""


def pehe(estimated: Sequence[float], true: Sequence[float]) -> float:
    """Root mean squared error of the estimated individual effects."""
    if len(estimated) != len(true) or not true:
        raise InvalidArgumentError("PEHE needs as many estimates as true effects, at least one")
    return (sum((a - b) ** 2 for a, b in zip(estimated, true, strict=True)) / len(true)) ** 0.5


def _area(score: Sequence[float], true: Sequence[float]) -> float:
    """Area under the uplift curve: the true effects summed down the ranking by ``score``, the
    cumulative sums added over every cut-off. Customers with equal scores cannot be told apart, so
    the curve rises linearly across a tie (a constant score gets exactly the random ranking's area)."""
    order = sorted(range(len(true)), key=lambda i: -score[i])
    area, running, k = 0.0, 0.0, 0
    while k < len(order):
        j = k
        while j < len(order) and score[order[j]] == score[order[k]]:
            j += 1
        group, size = sum(true[i] for i in order[k:j]), j - k
        area += size * running + group * (size + 1) / 2
        running += group
        k = j
    return area


def auuc_ratio(score: Sequence[float], true: Sequence[float]) -> float:
    """The uplift curve's area over the oracle's (ranking by the true effects)."""
    oracle = _area(true, true)
    return _area(score, true) / oracle if oracle else 0.0


def qini(score: Sequence[float], true: Sequence[float]) -> float:
    """The Qini coefficient against the oracle: (model - random) / (oracle - random) areas."""
    n = len(true)
    random_area = sum(true) * (n + 1) / 2  # the cumulative sum grows linearly on average
    oracle = _area(true, true) - random_area
    return (_area(score, true) - random_area) / oracle if oracle else 0.0
