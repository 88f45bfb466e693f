"""``simulate_intervention``: "what if I offer 20% to at-risk customers?" answered by a simulated
experiment on the merchant's own generated world (docs/experiments.md, "From a conversation").

The offer runs as randomised experiments on this business's customers against their exact
counterfactual (:mod:`app.experiments`): the target is re-simulated with and without the offer over
the window, split at random into treated and holdout ``iterations`` times, and the uplift is the
mean difference with its 95% interval. The answer states the retention and revenue uplift, the
cost per customer and the ROI, each with the interval; the run is kept as an
``ops_simulation_runs`` row, with the conversation's tokens and cost so far when a language model
took part. It is an action because it writes that row; it needs no approval (it spends nothing).

A database has one past and no counterfactual future, so the action is refused there with a
message saying where simulated experiments run (``cjsim simulate intervention``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from sqlalchemy import select

from app.errors import DataUnavailableError, InvalidArgumentError
from app.experiments.population import PotentialOutcomes, WorldKey, potential_outcomes
from app.experiments.records import insert_run
from app.experiments.runner import ExperimentResult, run_experiment
from app.experiments.spec import InterventionSpec, segment_names
from app.formatting import money
from app.retention.queue import source_currency
from app.storage.customer_frame import CustomerFrame
from app.storage.ops_experiments import simulation_runs
from app.views.actions import ActionContext
from app.views.base import ViewArgs, ViewModel
from app.views.registry import ActionSpec
from app.world.effects import EffectModel, InterventionEffects, load_intervention_effects
from app.world.generator import generate_world
from app.world.world import World

__all__ = [
    "SimulateArgs",
    "SimulatedIntervention",
    "SIMULATE_INTERVENTION",
    "RunIdArgs",
    "LaunchedOffer",
    "LAUNCH_SIMULATED_INTERVENTION",
    "scaled_offer",
    "MAX_HORIZON_DAYS",
]

MAX_HORIZON_DAYS = 90
"""Longest window a conversation simulates (the world is re-generated that far when it must be)."""

Target = Literal["at_risk", "all", "loyal", "engaged", "casual", "deal_seeker"]


class SimulateArgs(ViewArgs):
    segment: Target = Field(default="at_risk", description="Who gets the offer: at_risk (active customers with a "
                            "risk score of 0.6 or more, as analyze_customer_segment counts them), all active "
                            "subscribers, or one behaviour segment (loyal, engaged, casual, deal_seeker).")  # fmt: skip
    action: str = Field(default="loyalty_discount", min_length=1, max_length=40, description="The offer and its "
                        "channel: an effect model (loyalty_discount, pause_offer, personal_checkin, "
                        "winback_free_shipping, payment_update_reminder, generic_newsletter).")  # fmt: skip
    offer_percent: float | None = Field(default=None, gt=0, le=50, description="Percentage off, for a discount offer "
                                        "(loyalty_discount is modelled at 15%); leave it out for other offers.")  # fmt: skip
    cost_per_exposure: float | None = Field(default=None, ge=0, le=10_000, description="Cost of treating one customer "
                                            "in the merchant's currency (default: the offer's own cost).")  # fmt: skip
    horizon_days: int = Field(default=30, ge=7, le=MAX_HORIZON_DAYS, description="Days measured from tomorrow (7-90).")
    iterations: int = Field(default=20, ge=2, le=200, description="Randomised experiments (2-200); more narrows the "
                            "interval and takes longer.")  # fmt: skip

    @field_validator("segment", mode="before")
    @classmethod
    def _segment_words(cls, value: Any) -> Any:
        # "at-risk" and "At risk" name the same customers as at_risk
        return "_".join(value.strip().lower().replace("-", " ").split()) if isinstance(value, str) else value

    @field_validator("action")
    @classmethod
    def _known_action(cls, value: str) -> str:
        known = load_intervention_effects().actions
        if value not in known:
            raise ValueError(f"unknown action {value!r}; choose one of {', '.join(sorted(known))}")
        return value

    @model_validator(mode="after")
    def _percent_fits(self) -> SimulateArgs:
        model = load_intervention_effects().get(self.action)
        if self.offer_percent is not None and model.offer_percent is None:
            discounts = [n for n, m in load_intervention_effects().actions.items() if m.offer_percent is not None]
            raise ValueError(f"offer_percent applies to a discount offer ({', '.join(discounts)}); {self.action} "
                             "takes none: leave it out")  # fmt: skip
        return self


class SimulatedIntervention(ViewModel):
    """A simulated experiment of an offer on this business's customers, kept as a simulation run.

    Uplifts are treated minus holdout; each ``*_low`` / ``*_high`` pair is its 95% interval."""

    run_id: int = Field(description="the ops_simulation_runs row")
    action: str
    offer: str = Field(description="what the customers get")
    offer_percent: float | None
    segment: str
    target_customers: int = Field(description="customers the offer would reach")
    starts_on: str
    horizon_days: int
    iterations: int
    holdout_share: float
    interval_percent: int = Field(default=95, description="the confidence level of every interval, in percent")
    retention_uplift: float = Field(description="share of the target still subscribed at the window's end")
    retention_uplift_low: float
    retention_uplift_high: float
    revenue_uplift: float = Field(description="revenue per customer over the window, in the currency")
    revenue_uplift_low: float
    revenue_uplift_high: float
    cost_per_customer: float = Field(description="in the currency")
    total_cost: float = Field(description="cost per customer x target customers, in the currency")
    roi: float | None = Field(description="revenue uplift per unit of cost (null for a free offer)")
    roi_low: float | None
    roi_high: float | None
    net_value_per_customer: float = Field(description="revenue uplift minus cost, in the currency")
    projected_net_value: float = Field(description="net value per customer x target customers, in the currency")
    recommendation: Literal["roll_out", "do_not_roll_out", "inconclusive"] = Field(
        description="from the net value's 95% interval: above zero, below zero, or spanning it")
    currency: str

    def to_text(self) -> str:
        m = lambda v: money(v, self.currency)
        pp = lambda v: f"{v:+.1%}"
        roi = ("no ROI (the offer costs nothing)" if self.roi is None else
               f"ROI {self.roi:.2f} ({self.interval_percent}% interval {self.roi_low:.2f} to {self.roi_high:.2f})")  # fmt: skip
        return (f"Simulation run #{self.run_id}: {self.offer} for {self.target_customers} {self.segment.replace('_', ' ')} "
                f"customers from {self.starts_on} over {self.horizon_days} days ({self.iterations} randomised experiments, "
                f"{self.holdout_share:.0%} held out). Retention uplift {pp(self.retention_uplift)} of the target ({self.interval_percent}% "
                f"interval {pp(self.retention_uplift_low)} to {pp(self.retention_uplift_high)}); revenue uplift "
                f"{m(self.revenue_uplift)} per customer ({self.interval_percent}% interval {m(self.revenue_uplift_low)} to "
                f"{m(self.revenue_uplift_high)}); cost {m(self.cost_per_customer)} per customer, {m(self.total_cost)} in "
                f"all; {roi}; net value {m(self.net_value_per_customer)} per customer, {m(self.projected_net_value)} "
                f"projected. Recommendation: {self.recommendation.replace('_', ' ')}.")  # fmt: skip


def scaled_offer(model: EffectModel, percent: float) -> EffectModel:
    """``model`` (a discount offer) at ``percent`` off instead of its own percentage.

    Each of its own percentages' worth acts as one more independent cut of the same size, so a cut
    ``e`` at the modelled percentage ``p0`` becomes ``1 - (1 - e) ** (percent / p0)``: zero at 0%,
    ``e`` at ``p0``, rising with diminishing returns and never past 1. The cost scales with the
    percentage (the discount is what the offer costs).
    """
    assert model.offer_percent is not None
    k = percent / model.offer_percent
    cut = lambda e: round(1 - (1 - e) ** k, 6)
    return model.model_copy(update={
        "churn_effect": {s: cut(e) for s, e in model.churn_effect.items()}, "order_effect": cut(model.order_effect),
        "cost": round(model.cost * k, 2), "offer_percent": percent,
        "description": model.description.replace(f"{model.offer_percent:g}%", f"{percent:g}%", 1)
        if f"{model.offer_percent:g}%" in model.description else f"{model.description} ({percent:g}% off)",
    })  # fmt: skip


def _world_for(ctx: ActionContext, until: int) -> tuple[World, WorldKey]:
    """The provider's generated world, simulated at least ``until`` days past its today."""
    world = getattr(ctx.provider, "world", None)
    if not isinstance(world, World) or world.fates is None:
        raise DataUnavailableError(
            "simulate_intervention needs a generated world: an experiment re-runs each customer's future with and "
            "without the offer, and a database holds one past and no counterfactual; simulate on generated worlds "
            "like this business with `cjsim simulate intervention` instead"
        )  # fmt: skip
    key = WorldKey(world.spec.scenario.id, world.spec.persona.id, world.spec.seed)
    if (world.horizon - world.as_of).days >= until:
        return world, key
    spec = dataclasses.replace(world.spec, horizon_days=until)
    assert ctx.provider is not None
    longer: World = ctx.provider.source_memo(("simulation_world", until), lambda: generate_world(spec))
    return longer, key


def _restrict(po: PotentialOutcomes, ids: set[str]) -> PotentialOutcomes:
    keep = [i for i, c in enumerate(po.customer_ids) if c in ids]
    pick = lambda xs: tuple(xs[i] for i in keep)
    return dataclasses.replace(po, customer_ids=pick(po.customer_ids), segments=pick(po.segments),
                               untreated={m: pick(v) for m, v in po.untreated.items()},
                               treated={m: pick(v) for m, v in po.treated.items()})  # fmt: skip


def _recommendation(result: ExperimentResult) -> Literal["roll_out", "do_not_roll_out", "inconclusive"]:
    first = result.recommendations()[0]  # "roll out: net value ...", "do not roll out: ...", "inconclusive: ..."
    return "inconclusive" if first.startswith("inconclusive") else "do_not_roll_out" if first.startswith("do not") else "roll_out"


def simulate_intervention(ctx: ActionContext, args: SimulateArgs) -> SimulatedIntervention:
    effects = load_intervention_effects()
    model = effects.get(args.action)
    if args.offer_percent is not None and args.offer_percent != model.offer_percent:
        model = scaled_offer(model, args.offer_percent)
        effects = InterventionEffects(version=effects.version, actions={**effects.actions, args.action: model})
    offset = (ctx.day - _as_of(ctx)).days + 1  # the offer lands tomorrow on the provider's clock
    world, key = _world_for(ctx, offset + args.horizon_days - 1)
    percent = args.offer_percent if args.offer_percent is not None else model.offer_percent
    spec = InterventionSpec(
        name=f"{model.description} for {args.segment.replace('_', ' ')} customers", action=args.action,
        segments=[args.segment] if args.segment in segment_names() else [], cost_per_exposure=args.cost_per_exposure
        if args.cost_per_exposure is not None else model.cost, start_offset_days=offset, horizon_days=args.horizon_days,
    )  # fmt: skip
    po = potential_outcomes(key, spec, effects, world=world)
    if args.segment == "at_risk":
        at_risk = set(ctx.read_source(lambda conn: [r.customer_id for r in CustomerFrame(conn, ctx.day).members("at_risk")]))
        po = _restrict(po, at_risk)
        if po.size < 4:
            raise InvalidArgumentError(f"only {po.size} at-risk subscribers are active tomorrow, too few to split into "
                                       "treated and holdout; choose a wider segment (all, or a behaviour segment)")  # fmt: skip
    seed = world.spec.seed
    result = run_experiment(spec, [key], args.iterations, seed=seed, effects=effects, outcomes={key: po})
    usage = ctx.llm_usage
    run_id = insert_run(ctx.conn, result, started_at=ctx.now, seed=seed,
                        llm_tokens=usage.tokens if usage else None, llm_cost_cents=usage.cost_cents if usage else None,
                        target={"segment": args.segment, "customers": po.size, "offer_percent": percent,
                                "source": "conversation"})  # fmt: skip
    currency = ctx.read_source(source_currency)  # on the action's connection: a second checkout would roll it back
    pooled = result.pooled
    cost = result.cost_cents
    revenue = pooled["revenue_cents"]
    r = pooled["retained"]
    roi = revenue.scaled(1 / cost) if cost else None
    return SimulatedIntervention(
        run_id=run_id, action=args.action, offer=model.description, offer_percent=percent, segment=args.segment,
        target_customers=po.size, starts_on=po.start.isoformat(), horizon_days=args.horizon_days,
        iterations=len(result.iterations), holdout_share=spec.holdout_share,
        retention_uplift=round(r.estimate, 4), retention_uplift_low=round(r.low, 4), retention_uplift_high=round(r.high, 4),
        revenue_uplift=round(revenue.estimate / 100, 2), revenue_uplift_low=round(revenue.low / 100, 2),
        revenue_uplift_high=round(revenue.high / 100, 2), cost_per_customer=cost / 100,
        total_cost=round(cost * po.size / 100, 2), roi=None if roi is None else round(roi.estimate, 2),
        roi_low=None if roi is None else round(roi.low, 2), roi_high=None if roi is None else round(roi.high, 2),
        net_value_per_customer=round((revenue.estimate - cost) / 100, 2),
        projected_net_value=round((revenue.estimate - cost) * po.size / 100, 2),
        recommendation=_recommendation(result), currency=currency,
    )  # fmt: skip


def _as_of(ctx: ActionContext) -> Any:
    world = getattr(ctx.provider, "world", None)
    return world.as_of if isinstance(world, World) else ctx.day


SIMULATE_INTERVENTION: ActionSpec[SimulateArgs, SimulatedIntervention] = ActionSpec(
    name="simulate_intervention",
    args=SimulateArgs,
    result=SimulatedIntervention,
    description="Simulate an offer to a group of customers before running it: randomised experiments on this "
    "business's own customers against their future without it give the retention and revenue uplift, the cost "
    "and the ROI, each with a 95% interval (generated worlds only).",
    tool="simulate_intervention",
    guidance="Use it when the merchant asks what an offer would do (\"what if I offer 20% to at-risk customers?\"); "
    "state the uplift with its interval, the cost and the ROI exactly as returned, then offer to launch it.",
    run=simulate_intervention,
    side_effect="writes one ops_simulation_runs row",
    examples=({"segment": "at_risk", "action": "loyalty_discount", "offer_percent": 20, "iterations": 5},),
)


# --------------------------------------------------------------------------- launching a simulated offer


class RunIdArgs(ViewArgs):
    run_id: int = Field(ge=1, description="The simulation run to launch, as simulate_intervention returned it.")


class LaunchedOffer(ViewModel):
    """A simulated offer the merchant approved for launch."""

    run_id: int
    offer: str
    segment: str
    target_customers: int
    total_cost: float = Field(description="the simulation's cost per customer x target customers, in the currency")
    lands_on: str
    currency: str

    def to_text(self) -> str:
        return (f"Launched simulation run #{self.run_id}: {self.offer} for {self.target_customers} "
                f"{self.segment.replace('_', ' ')} customers, landing on {self.lands_on}, at a cost of "
                f"{money(self.total_cost, self.currency)}.")  # fmt: skip


def launch_simulated_intervention(ctx: ActionContext, args: RunIdArgs) -> LaunchedOffer:
    row = ctx.conn.execute(select(simulation_runs).where(simulation_runs.c.run_id == args.run_id)).mappings().first()
    if row is None:
        raise DataUnavailableError(f"no simulation run #{args.run_id}; run simulate_intervention first and launch the "
                                   "run it returns")  # fmt: skip
    parameters, predicted = json.loads(row["parameters"]), json.loads(row["predicted_outcomes"])
    target = parameters.get("target") or {}
    customers = int(target.get("customers") or round(predicted["mean_target_size"]))
    return LaunchedOffer(
        run_id=args.run_id, offer=row["name"].split(" for ")[0], segment=str(target.get("segment", "all")),
        target_customers=customers, total_cost=round(predicted["cost_per_customer_cents"] * customers / 100, 2),
        lands_on=(ctx.day + dt.timedelta(days=1)).isoformat(), currency=ctx.read_source(source_currency),
    )  # fmt: skip


LAUNCH_SIMULATED_INTERVENTION: ActionSpec[RunIdArgs, LaunchedOffer] = ActionSpec(
    name="launch_simulated_intervention",
    args=RunIdArgs,
    result=LaunchedOffer,
    description="Launch an offer simulate_intervention simulated, for the customers it targeted, from tomorrow "
    "(the merchant approves first).",
    tool="launch_simulated_intervention",
    guidance="Use it only after the merchant agrees to launch a simulated offer; it asks the merchant first.",
    run=launch_simulated_intervention,
    side_effect="records the launch of the simulation run's offer in the audit log (the closed loop does not run it "
    "on the generated world yet)",
    requires_approval=True,
    idempotency_args=("run_id",),
    examples=({"run_id": 1},),
)
