"""Uplift learners scored against true individual effects: the metrics by hand, a synthetic effect
a good learner must recover, and a generated world with a hand-set effect."""

from __future__ import annotations

import random

import pytest

from app.experiments import InterventionSpec, WorldKey, potential_outcomes
from app.experiments.uplift import LEARNERS, UpliftData, auuc_ratio, experiment_data, pehe, qini, truth_data
from app.world.effects import EffectModel, InterventionEffects

RESCUE = InterventionEffects(version=1, actions={"rescue": EffectModel(
    description="saves every deal seeker who would cancel, for good, and no one else", cost=1.0,
    churn_effect={"loyal": 0.0, "engaged": 0.0, "casual": 0.0, "deal_seeker": 1.0},
    order_effect=0.0, half_life_days=1_000_000, heterogeneity=0.0,
)})  # fmt: skip


def test_metrics_by_hand() -> None:
    true = [3.0, 0.0, 1.0, 0.0]
    assert pehe([3.0, 0.0, 1.0, 0.0], true) == 0.0
    assert pehe([1.0, 0.0, 1.0, 2.0], true) == pytest.approx(((4 + 0 + 0 + 4) / 4) ** 0.5)
    assert qini(true, true) == 1.0 and auuc_ratio(true, true) == 1.0
    # ranking 0,2,1,3 is the oracle's; 1,3,2,0 the worst: cumulative 0,0,1,4 -> area 5; oracle 3,4,4,4 -> 15; random 4 x 5/2 = 10
    assert qini([0.0, 9.0, 1.0, 5.0], true) == pytest.approx((5 - 10) / (15 - 10))
    assert auuc_ratio([0.0, 9.0, 1.0, 5.0], true) == pytest.approx(5 / 15)
    assert qini([7.0] * 4, true) == pytest.approx(0.0)  # ties: no better and no worse than chance
    assert qini([1.0, 0.0, 1.0, 0.0], true) == pytest.approx((14 - 10) / (15 - 10))  # responders tied: 2, 4, 4, 4


def _synthetic(n: int, seed: int) -> UpliftData:
    """Effect 5 for the second feature's group, 0 elsewhere; outcome noise of sd 1."""
    rng = random.Random(seed)
    data = UpliftData([], [], [], [])
    for _ in range(n):
        group, x = rng.random() < 0.3, rng.random()
        t = int(rng.random() < 0.5)
        effect = 5.0 if group else 0.0
        data.features.append([x, float(group)])
        data.treated.append(t)
        data.outcome.append(2.0 * x + t * effect + rng.gauss(0, 1))
        data.true_effect.append(effect)
    return data


@pytest.mark.parametrize("learner", sorted(LEARNERS))
def test_a_known_effect_is_recovered(learner: str) -> None:
    train, test = _synthetic(4000, 0), _synthetic(1000, 1)
    estimated = LEARNERS[learner](train)(test.features)
    assert pehe(estimated, test.true_effect) < 0.5  # the effect is 5: within a tenth of it
    assert qini(estimated, test.true_effect) > 0.95


@pytest.fixture(scope="module")
def rescue() -> tuple[UpliftData, UpliftData]:
    spec = InterventionSpec(action="rescue")
    keys = [WorldKey("steady_operations", p, 0) for p in ("marcus_thompson", "zoe_martinez", "sarah_chen")]
    outcomes = [potential_outcomes(k, spec, RESCUE, with_features=True) for k in keys]
    return experiment_data(outcomes[:2], "retained", seed=0), truth_data(outcomes[2:], "retained")


@pytest.mark.parametrize("learner", sorted(LEARNERS))
def test_learners_find_the_hand_set_effect_in_a_world(rescue, learner: str) -> None:
    """Only deal seekers respond; trained on two merchants' experiment, scored on a third merchant."""
    train, test = rescue
    deal_seeker = 3  # the segment's one-hot column
    assert all(e == 0 for f, e in zip(test.features, test.true_effect, strict=True) if not f[deal_seeker])
    assert sum(test.true_effect) > 5  # deal seekers who would have cancelled in the window
    estimated = LEARNERS[learner](train)(test.features)
    inside = [e for f, e in zip(test.features, estimated, strict=True) if f[deal_seeker]]
    outside = [e for f, e in zip(test.features, estimated, strict=True) if not f[deal_seeker]]
    assert abs(sum(outside) / len(outside)) < 0.01 < 0.03 < sum(inside) / len(inside)
    # outside the segment the true effect is exactly 0 for everyone: there PEHE is small (sampling
    # noise of two arms of ~2,000 customers), well under the segment's mean effect
    assert pehe(outside, [0.0] * len(outside)) < 0.05
    assert qini(estimated, test.true_effect) > 0.8


def test_without_scikit_learn_the_error_says_what_to_install(monkeypatch) -> None:
    import sys

    from app.errors import DataUnavailableError

    monkeypatch.setitem(sys.modules, "sklearn.ensemble", None)  # makes the import fail
    with pytest.raises(DataUnavailableError, match=r"pip install 'cjsim\[uplift\]'"):
        LEARNERS["t_learner"](_synthetic(100, 0))
