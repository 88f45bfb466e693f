"""Interventions as registered actions: ``launch_intervention`` (a playbook for one customer, checked
against today's journey), ``approve_intervention`` (the governance gate's yes; the merchant approves
first) and ``override_intervention`` (a human replaces or cancels what a playbook would run).

Each writes ``ops_interventions`` through :mod:`app.journeys.records`, so a row means the same
whether a conversation, the CLI or the orchestrator wrote it. An intervention launched here has no
orchestrator run (its id is ``IV-cj-<yyyymmdd>-<customer>-<playbook>``); it lands the day after it
is decided, pending approval when its playbook requires it. Like every action, each is audited and
idempotent per (action, day, key).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field, field_validator

from app.errors import DataUnavailableError, InvalidArgumentError
from app.formatting import money, to_major
from app.journeys import records
from app.journeys.matching import candidates, segments_of
from app.journeys.playbooks import Playbook, Playbooks, load_playbooks
from app.retention.queue import source_currency
from app.views.actions import ActionContext
from app.views.base import ViewArgs, ViewModel
from app.views.journey_data import forecasts_at, in_force, loop_state, positions_at
from app.views.registry import ActionSpec
from app.world.effects import load_intervention_effects

__all__ = [
    "LaunchArgs",
    "InterventionIdArgs",
    "OverrideArgs",
    "LaunchedIntervention",
    "DecidedIntervention",
    "LAUNCH_INTERVENTION",
    "APPROVE_INTERVENTION",
    "OVERRIDE_INTERVENTION",
]

_ID_HELP = "The intervention id, IV-<run or cj>-<yyyymmdd>-<customer id>-<playbook id>, as launch_intervention returns it."


class LaunchArgs(ViewArgs):
    customer_id: str = Field(min_length=1, max_length=32, description="The customer (e.g. C000123).")
    playbook_id: str = Field(min_length=1, max_length=32, description="The playbook (e.g. PB_ENG_001), as get_playbooks "
                             "or get_customer_journey lists them.")  # fmt: skip


class InterventionIdArgs(ViewArgs):
    intervention_id: str = Field(min_length=1, max_length=100, description=_ID_HELP)

    @field_validator("intervention_id")
    @classmethod
    def _well_formed(cls, value: str) -> str:
        parts = value.split("-")
        if len(parts) < 5 or parts[0] != "IV" or not (parts[1] == "cj" or parts[1].isdigit()) or not (
                len(parts[2]) == 8 and parts[2].isdigit()):  # fmt: skip
            raise ValueError(f"{value!r} is not an intervention id; ids look like IV-cj-20250422-C000123-PB_ENG_001")
        return value


class OverrideArgs(InterventionIdArgs):
    action: str | None = Field(default=None, min_length=1, max_length=40, description="The action to run instead (an "
                               "effect model: personal_checkin, pause_offer, ...); leave it out to run nothing.")  # fmt: skip
    reason: str = Field(min_length=1, max_length=2000, description="Why the playbook is overridden.")

    @field_validator("action")
    @classmethod
    def _known_action(cls, value: str | None) -> str | None:
        known = load_intervention_effects().actions
        if value is not None and value not in known:
            raise ValueError(f"unknown action {value!r}; choose one of {', '.join(sorted(known))} or leave it out")
        return value


class LaunchedIntervention(ViewModel):
    """An intervention as launch_intervention wrote it."""

    intervention_id: str
    customer_id: str
    segment: str
    journey_stage: str
    playbook_id: str
    playbook_name: str
    actions: list[str]
    status: str = Field(description="launched, or pending_approval when the playbook requires approval")
    generated_at: dt.date
    lands_on: dt.date
    churn_probability: float
    expected_cost: float = Field(description="in the merchant's currency")
    expected_value: float = Field(description="in the merchant's currency")
    currency: str
    awaiting_approval: str | None = Field(description="the intervention id while it waits for approve_intervention")

    def to_text(self) -> str:
        what = (f"waits for approval (approve_intervention {self.intervention_id})" if self.awaiting_approval
                else f"launched: {' + '.join(self.actions)} lands on {self.lands_on}")  # fmt: skip
        return (f"Intervention {self.intervention_id}: {self.playbook_id} {self.playbook_name} for {self.customer_id} "
                f"({self.segment}, {self.journey_stage}, churn probability {self.churn_probability:.1%}) {what}; expected "
                f"value {money(self.expected_value, self.currency)} for {money(self.expected_cost, self.currency)}.")  # fmt: skip


class DecidedIntervention(ViewModel):
    """An intervention after the governance gate."""

    intervention_id: str
    customer_id: str
    playbook_id: str
    status: str = Field(description="launched (approved) or overridden")
    changed: bool = Field(description="False when the intervention needed no approval and was launched already")
    executed_action: list[str] = Field(description="what runs (empty: nothing)")
    lands_on: dt.date
    churn_probability: float = Field(description="the forecast the intervention was decided on")
    decided_by: str
    note: str | None

    def to_text(self) -> str:
        runs = " + ".join(self.executed_action) or "nothing"
        if not self.changed:
            return (f"Intervention {self.intervention_id} for {self.customer_id} needed no approval: it was launched "
                    f"already; {runs} lands on {self.lands_on}.")  # fmt: skip
        why = f" ({self.note})" if self.note else ""
        return (f"Intervention {self.intervention_id} for {self.customer_id} is {self.status} by {self.decided_by}{why}: "
                f"{runs} lands on {self.lands_on}.")


def _why_not(p: Playbook, stage: str, segment: str, risk: float | None) -> str:
    if stage != p.journey_stage:
        return f"it is for the {p.journey_stage} stage and the customer is in {stage}"
    if segment not in p.eligible_segments:
        return f"it is for {', '.join(p.eligible_segments)} customers and the customer is {segment or 'in no segment'}"
    if risk is None:
        return "the customer is not scored (no active subscription or recent order)"
    return f"it needs a risk of at least {p.risk_threshold:.2f} and the customer's is {risk:.2f}"


def launch_intervention(ctx: ActionContext, args: LaunchArgs) -> LaunchedIntervention:
    catalogue = load_playbooks()
    p = catalogue.get(args.playbook_id)
    state = loop_state(ctx.conn, ctx.day)
    usable = ", ".join(x.playbook_id for x in in_force(catalogue, state.retired))
    if p.status != "active":
        raise InvalidArgumentError(f"playbook {p.playbook_id} is {p.status}, not active; launch an active one: {usable}")
    if p.playbook_id in state.retired:
        raise InvalidArgumentError(f"playbook {p.playbook_id} was retired by orchestrator run #{state.run_id} on "
                                   f"{state.retired[p.playbook_id]} (its ROI fell below the floor); launch another: {usable}")  # fmt: skip
    memo = ctx.provider.source_memo if ctx.provider is not None else None

    def read(c) -> tuple[Any, ...]:
        pos = positions_at(c, ctx.day, memo).get(args.customer_id)
        if pos is None:
            return None, "", [], source_currency(c)
        segment = segments_of(c, [pos.customer_id]).get(pos.customer_id, "")
        found = candidates({pos.customer_id: pos}, forecasts_at(c, ctx.day, memo), {pos.customer_id: segment},
                           Playbooks(version=1, playbooks=[p]), learned=state.learned)  # fmt: skip
        return pos, segment, found, source_currency(c)

    pos, segment, found, currency = ctx.read_source(read)
    if pos is None:
        raise DataUnavailableError(f"no customer {args.customer_id!r} on {ctx.day}; find ids with get_churn_forecast")
    if not found:
        raise InvalidArgumentError(f"playbook {p.playbook_id} does not apply to {pos.customer_id} on {ctx.day}: "
                                   f"{_why_not(p, pos.stage, segment, pos.risk)}; get_customer_journey lists the "
                                   "playbooks that do")  # fmt: skip
    c = found[0]
    record = records.InterventionRecord(
        intervention_id=records.intervention_id(None, ctx.day, c.customer_id, p.playbook_id), run_id=None,
        customer_id=c.customer_id, segment=c.segment, journey_stage=c.stage, playbook_id=p.playbook_id,
        recommended_action=tuple(p.default_actions), confidence=c.churn_probability,
        expected_cost_cents=c.expected_cost_cents, expected_value_cents=c.expected_value_cents,
        requires_human_approval=p.approval_required, triggered_by_signals=c.signals,
        evaluation_latency_ms=0,  # decided in a conversation: no orchestrator timing, and transcripts stay reproducible
        generated_at=ctx.day, lands_on=ctx.day + dt.timedelta(days=1),
        status="pending_approval" if p.approval_required else "launched",
        executed_action=None if p.approval_required else tuple(p.default_actions),
        decided_by=None if p.approval_required else ctx.actor,
    )  # fmt: skip
    if records.insert_interventions(ctx.conn, [record]) != 1:  # pragma: no cover - one row in, one row out
        raise DataUnavailableError(f"intervention {record.intervention_id} was not written")
    return LaunchedIntervention(
        intervention_id=record.intervention_id, customer_id=c.customer_id, segment=c.segment, journey_stage=c.stage,
        playbook_id=p.playbook_id, playbook_name=p.name, actions=list(p.default_actions), status=record.status,
        generated_at=ctx.day, lands_on=record.lands_on, churn_probability=c.churn_probability,
        expected_cost=to_major(c.expected_cost_cents, currency), expected_value=to_major(c.expected_value_cents, currency),
        currency=currency, awaiting_approval=record.intervention_id if record.status == "pending_approval" else None,
    )  # fmt: skip


def _decided(r: records.InterventionRecord, changed: bool = True) -> DecidedIntervention:
    return DecidedIntervention(intervention_id=r.intervention_id, customer_id=r.customer_id, playbook_id=r.playbook_id,
                               status=r.status, changed=changed, executed_action=list(r.executed_action or ()), lands_on=r.lands_on,
                               churn_probability=r.confidence, decided_by=r.decided_by or "", note=r.decision_note)  # fmt: skip


def approve_intervention(ctx: ActionContext, args: InterventionIdArgs) -> DecidedIntervention:
    r = records.get_intervention(ctx.conn, args.intervention_id)
    if r.status == "launched" and not r.requires_human_approval:  # its playbook needs no approval: nothing to do
        return _decided(r, changed=False)
    return _decided(records.decide_intervention(ctx.conn, args.intervention_id, "approve", by=ctx.actor))


def override_intervention(ctx: ActionContext, args: OverrideArgs) -> DecidedIntervention:
    action = (args.action,) if args.action else None
    return _decided(records.decide_intervention(ctx.conn, args.intervention_id, "override", by=ctx.actor,
                                                note=args.reason, action=action))  # fmt: skip


LAUNCH_INTERVENTION: ActionSpec[LaunchArgs, LaunchedIntervention] = ActionSpec(
    name="launch_intervention",
    args=LaunchArgs,
    result=LaunchedIntervention,
    description="Launch a playbook for one customer: checked against the customer's stage, segment and risk today; "
    "it lands tomorrow, or waits for approve_intervention when the playbook requires approval.",
    tool="launch_intervention",
    guidance="Use it when the merchant agrees to run a playbook for a customer; take the playbook the churn forecast "
    "or the customer's journey recommends.",
    run=launch_intervention,
    side_effect="inserts one ops_interventions row (run_id null)",
    idempotency_args=("customer_id", "playbook_id"),
    examples=({"customer_id": "C001135", "playbook_id": "PB_ENG_001"}, {"customer_id": "C000738", "playbook_id": "PB_RET_001"}),
)

APPROVE_INTERVENTION: ActionSpec[InterventionIdArgs, DecidedIntervention] = ActionSpec(
    name="approve_intervention",
    args=InterventionIdArgs,
    result=DecidedIntervention,
    description="Approve an intervention waiting for approval, so its playbook's actions run when it lands (one whose "
    "playbook needs no approval is launched already: nothing changes).",
    tool="approve_intervention",
    guidance="Use it right after launching a playbook that requires approval; it asks the merchant first.",
    run=approve_intervention,
    side_effect="updates the intervention's ops_interventions row (status launched)",
    requires_approval=True,
    examples=({"intervention_id": "IV-cj-20250318-C000738-PB_RET_001"},),
)

OVERRIDE_INTERVENTION: ActionSpec[OverrideArgs, DecidedIntervention] = ActionSpec(
    name="override_intervention",
    args=OverrideArgs,
    result=DecidedIntervention,
    description="Override an intervention waiting for approval: run another action instead, or nothing, with the reason.",
    tool="override_intervention",
    guidance="Use it when the merchant wants a different action (or none) for a customer than the playbook's.",
    run=override_intervention,
    side_effect="updates the intervention's ops_interventions row (status overridden)",
    examples=({"intervention_id": "IV-cj-20250318-C000738-PB_RET_001", "action": "personal_checkin",
               "reason": "A personal note suits this customer better than a discount"},),
)
