"""Pydantic models of the project's data files: personas, scenarios and merchant context.

Every model is strict (``extra="forbid"``): a misspelt key in a YAML file is an error that names
the file and the field, not a silently ignored setting. Field descriptions double as the JSON
Schema of each file format (``Model.model_json_schema()``).
"""

from __future__ import annotations

import datetime as dt
import re
import string
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    field_validator,
    model_validator,
)
from pydantic_core import CoreSchema, core_schema

__all__ = [
    "StrictModel",
    "RegexPattern",
    "format_fields",
    "Placeholders",
    "BusinessStage",
    "StressLevel",
    "CommunicationStyle",
    "TicketCategory",
    "TicketPriority",
    "CancelReason",
    "SignalType",
    "Plan",
    "Persona",
    "MerchantContext",
    "TimelineEventSpec",
    "Phase",
    "Modifiers",
    "Expectation",
    "MerchantGoal",
    "Scenario",
        "MILESTONES",
    "DataRequirement",
    "Stage",
    "Transition",
    "Workflow",
    "WorkflowFile",
]


class StrictModel(BaseModel):
    """Base of every data-file model: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"bad pattern {pattern!r}: {exc}") from None
    return pattern


RegexPattern = Annotated[str, AfterValidator(_compiles)]
"""A regular expression in a data file; one that does not compile is a validation error naming it."""


def format_fields(text: str) -> list[str]:
    """The ``{placeholder}`` names of a ``str.format`` template; ``ValueError`` on broken braces."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"broken placeholder in {text!r} ({exc}); write {{{{ and }}}} for literal braces") from None
    return [re.split(r"[.\[]", name, maxsplit=1)[0] for _, name, _, _ in parsed if name is not None]


class Placeholders:
    """Metadata for ``Annotated[str, Placeholders(...)]``: a text filled with ``str.format`` that may
    use only the placeholders ``names`` (checked when the data file is validated)."""

    def __init__(self, *names: str) -> None:
        self.names = names

    def check(self, text: str) -> str:
        """``text`` if it names only allowed placeholders, else a ValueError naming them."""
        unknown = sorted({f for f in format_fields(text) if f not in self.names})
        if unknown:
            shown = ", ".join(f"{{{u}}}" for u in unknown)
            allowed = ", ".join(f"{{{n}}}" for n in self.names) or "none"
            raise ValueError(f"unknown placeholder(s) {shown} in {text!r}; allowed: {allowed}")
        return text

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))


class BusinessStage(StrEnum):
    """How old and how fast-moving the merchant's business is."""

    startup = "startup"
    growth = "growth"
    mature = "mature"
    declining = "declining"


class StressLevel(StrEnum):
    """How much pressure the merchant is under; sets CJ's tone and support strain."""

    low = "low"
    moderate = "moderate"
    high = "high"
    critical = "critical"


class CommunicationStyle(StrEnum):
    """How the merchant talks: terse, collaborative or all over the place."""

    direct = "direct"
    collaborative = "collaborative"
    scattered = "scattered"


class TicketCategory(StrEnum):
    """Support ticket categories shared by generator, views and importers."""

    shipping_delay = "shipping_delay"
    fulfillment = "fulfillment"
    billing = "billing"
    cancellation = "cancellation"
    product_quality = "product_quality"
    account = "account"
    general = "general"


class TicketPriority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class CancelReason(StrEnum):
    """Why a subscription was cancelled (``subscriptions.cancel_reason``)."""

    too_expensive = "too_expensive"
    switching_to_competitor = "switching_to_competitor"
    product_quality = "product_quality"
    shipping_issues = "shipping_issues"
    not_using = "not_using"
    payment_failed = "payment_failed"
    other = "other"


class SignalType(StrEnum):
    """Behavioural churn signals (``customer_signals.signal_type``)."""

    failed_payment = "failed_payment"
    skipped_box = "skipped_box"
    negative_ticket = "negative_ticket"
    engagement_drop = "engagement_drop"


Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Multiplier = Annotated[float, Field(ge=0.0, le=50.0)]


class Plan(StrictModel):
    """A subscription plan a persona sells."""

    id: str = Field(description="Plan identifier stored in subscriptions.plan, e.g. 'classic_box'.")
    name: str = Field(description="Human-readable plan name.")
    monthly_price_cents: int = Field(gt=0, le=10_000_00, description="Monthly price in integer cents.")
    weight: float = Field(gt=0, description="Relative share of new subscribers choosing this plan.")


class ActionApproval(StrictModel):
    """How a merchant answers CJ's requests to act (the scripted merchant follows it)."""

    default: Literal["approve", "decline"] = Field(default="approve", description="Answer for any action not listed.")
    actions: dict[str, Literal["approve", "decline"]] = Field(
        default_factory=dict, description="Per action name: approve or decline."
    )

    def decision(self, action: str) -> str:
        """``approved`` or ``declined`` for ``action``."""
        return "approved" if self.actions.get(action, self.default) == "approve" else "declined"


class Persona(StrictModel):
    """A merchant persona (``data/merchants/<id>.yaml``)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="File stem; used on the command line.")
    display_name: str = Field(description="The merchant's name, e.g. 'Marcus Thompson'.")
    business_name: str
    business_type: str = Field(description="What the subscription box sells.")
    description: str = ""
    products: list[str] = Field(min_length=1, description="Products in the box.")
    plans: list[Plan] = Field(min_length=1)
    baseline_subscribers: int = Field(
        ge=50, le=1_000_000, description="Approximate active subscribers at as_of in steady operations."
    )
    communication_style: CommunicationStyle
    default_stress_level: StressLevel = StressLevel.moderate
    default_business_stage: BusinessStage = BusinessStage.growth
    known_facts: list[str] = Field(default_factory=list, description="Things the merchant knows and may mention.")
    approvals: ActionApproval = Field(
        default_factory=ActionApproval, description="How the merchant answers CJ's requests to act."
    )
    monthly_churn: Fraction = Field(
        default=0.05, description="Baseline share of active subscribers cancelling per 30 days."
    )
    cac_cents: int = Field(default=4500, gt=0, description="Baseline marketing cost per new subscriber, in cents.")
    tickets_per_100_subscribers: float = Field(
        default=9.0, gt=0, description="Baseline support tickets per 100 active subscribers per 30 days."
    )
    first_response_hours: float = Field(default=2.0, gt=0, description="Baseline median first-response time.")
    csat: float = Field(default=4.4, ge=1.0, le=5.0, description="Baseline mean CSAT (1-5).")
    countries: dict[str, float] = Field(
        default_factory=lambda: {"US": 0.8, "CA": 0.12, "GB": 0.08},
        description="Customer country mix (ISO code -> weight).",
    )

    @field_validator("plans")
    @classmethod
    def _unique_plan_ids(cls, plans: list[Plan]) -> list[Plan]:
        ids = [p.id for p in plans]
        if len(ids) != len(set(ids)):
            raise ValueError(f"plan ids must be unique, got {ids}")
        return plans


class MerchantContext(StrictModel):
    """Merchant context that shapes the generated business and CJ's tone."""

    business_stage: BusinessStage = BusinessStage.growth
    stress_level: StressLevel = StressLevel.moderate


class TimelineEventSpec(StrictModel):
    """A dated business event in a scenario, relative to ``as_of``."""

    day: int = Field(
        ge=-365,
        le=90,
        description="Days relative to as_of (negative = past). Future days are only allowed for kind 'planned'.",
    )
    kind: str = Field(pattern=r"^(marketing|operations|product|external|incident|planned|milestone)$")
    title: str
    impact: str = Field(pattern=r"^(positive|negative|neutral)$")

    @model_validator(mode="after")
    def _future_only_if_planned(self) -> TimelineEventSpec:
        if self.day > 0 and self.kind != "planned":
            raise ValueError("events after as_of must have kind 'planned'")
        return self


class Phase(StrictModel):
    """Generator settings in force from ``starts_days_ago`` until the next phase starts.

    Multipliers scale the persona's baseline rates. Acquisition is given either as a target
    ``net_growth`` (monthly net change of active subscribers; new arrivals are derived from it and
    the churn in force) or as an ``acquisition`` multiplier on the baseline arrival rate.
    """

    starts_days_ago: int = Field(ge=0, le=400, description="Phase start, in days before as_of.")
    net_growth: float | None = Field(
        default=None, ge=-0.5, le=2.0, description="Monthly net growth of active subscribers (0.05 = +5%/30d)."
    )
    acquisition: Multiplier | None = Field(default=None, description="Multiplier on the baseline arrival rate.")
    churn: Multiplier = Field(default=1.0, description="Multiplier on the baseline churn hazard.")
    cac: Multiplier = Field(default=1.0, description="Multiplier on cost per acquired subscriber.")
    ticket_volume: Multiplier = Field(default=1.0, description="Multiplier on all ticket categories.")
    ticket_mix: dict[TicketCategory, Multiplier] = Field(
        default_factory=dict, description="Extra multiplier per ticket category."
    )
    first_response: Multiplier = Field(default=1.0, description="Multiplier on first-response time.")
    csat_shift: float = Field(default=0.0, ge=-4.0, le=4.0, description="Added to the mean CSAT rating.")
    cancel_reasons: dict[CancelReason, Multiplier] = Field(
        default_factory=dict, description="Multiplier on the weight of each cancel reason."
    )
    failed_payments: Multiplier = Field(default=1.0, description="Multiplier on the failed-payment rate.")
    skips: Multiplier = Field(default=1.0, description="Multiplier on the box-skip rate.")
    visitors: Multiplier = Field(default=1.0, description="Multiplier on site visitors.")
    email_deliverability: Fraction | None = Field(default=None, description="Override of email deliverability.")

    @model_validator(mode="after")
    def _one_acquisition_setting(self) -> Phase:
        if self.net_growth is not None and self.acquisition is not None:
            raise ValueError("give either net_growth or acquisition, not both")
        return self


class Modifiers(StrictModel):
    """World-generator parameters of a scenario: phases of rates over the history."""

    phases: list[Phase] = Field(
        default_factory=list, description="Phases ordered from oldest to newest (decreasing starts_days_ago)."
    )

    @field_validator("phases")
    @classmethod
    def _ordered(cls, phases: list[Phase]) -> list[Phase]:
        starts = [p.starts_days_ago for p in phases]
        if starts != sorted(starts, reverse=True) or len(set(starts)) != len(starts):
            raise ValueError(f"phases must be ordered oldest first with distinct starts_days_ago, got {starts}")
        return phases


class Expectation(StrictModel):
    """A range one view metric must satisfy for every persona and seed.

    ``metric`` is ``<view>.<path>`` where the path walks the view's JSON (list items by index),
    e.g. ``financial_metrics.churn_rate.current`` or ``ticket_metrics.by_category.0.category``.
    With ``per`` the bounds apply to the share ``metric / per`` (a count per scored customer, say),
    so a signature need not scale with the persona's size.
    """

    metric: str = Field(pattern=r"^[a-z_]+(\.[A-Za-z0-9_]+)+$")
    args: dict[str, Any] = Field(default_factory=dict, description="View arguments.")
    per: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$",
        description="A path in the same view result to divide by: the bounds apply to the share "
        "metric / per (4 decimals), e.g. critical alerts per scored customer.",
    )
    min: float | None = None
    max: float | None = None
    min_ratio_to_steady: float | None = Field(
        default=None, description="Lower bound of value / steady_operations value (same persona and seed)."
    )
    max_ratio_to_steady: float | None = None
    one_of: list[str] | None = Field(default=None, description="Allowed values of a text metric.")
    description: str = ""

    @property
    def per_metric(self) -> str | None:
        """``per`` as a full ``<view>.<path>`` metric (None without ``per``)."""
        return None if self.per is None else f"{self.metric.split('.')[0]}.{self.per}"

    @model_validator(mode="after")
    def _has_a_bound(self) -> Expectation:
        bounds = (self.min, self.max, self.min_ratio_to_steady, self.max_ratio_to_steady, self.one_of)
        if all(b is None for b in bounds):
            raise ValueError("an expectation needs at least one of min, max, min/max_ratio_to_steady, one_of")
        if self.per is not None and self.one_of is not None:
            raise ValueError("'per' makes a share of a number; it cannot go with one_of (a text metric)")
        for low, high, names in (
            (self.min, self.max, "min/max"),
            (self.min_ratio_to_steady, self.max_ratio_to_steady, "min_ratio_to_steady/max_ratio_to_steady"),
        ):
            if low is not None and high is not None and low > high:
                raise ValueError(f"impossible range: {names} {low} > {high}, so no value can pass; swap or fix the bounds")
        return self


class MerchantGoal(StrictModel):
    """Something the merchant wants to learn in a scenario.

    ``metric`` (optional) names the view value that answers it, in the same ``<view>.<path>`` form
    as :class:`Expectation`; the simulated merchant asks ``ask`` and evaluation checks that CJ
    stated that value.
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    ask: str = Field(description="How the merchant asks for it.")
    metric: str | None = Field(default=None, pattern=r"^[a-z_]+(\.[A-Za-z0-9_]+)+$")
    args: dict[str, Any] = Field(default_factory=dict, description="View arguments for metric.")
    feedback: Literal["alert"] | None = Field(
        default=None,
        description="The merchant ends the ask with feedback on the alert CJ showed: the scripted merchant "
        "words it by persona and, in a generated world, by whether that customer really left.",
    )


class Scenario(StrictModel):
    """A business situation (``data/scenarios/<id>.yaml``)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    display_name: str
    description: str
    signature: str = Field(description="One-paragraph statement of what the data must show.")
    stress_level: StressLevel
    as_of: dt.date = Field(description="The world's 'today'.")
    modifiers: Modifiers = Field(default_factory=Modifiers)
    timeline: list[TimelineEventSpec] = Field(default_factory=list)
    expected: list[Expectation] = Field(default_factory=list)
    merchant_goals: list[MerchantGoal] = Field(min_length=1, description="What the merchant wants to learn from CJ.")
    opening_line: str | None = Field(default=None, description="How the merchant opens, if it starts the chat.")

    @field_validator("merchant_goals")
    @classmethod
    def _unique_goal_ids(cls, goals: list[MerchantGoal]) -> list[MerchantGoal]:
        ids = [g.id for g in goals]
        if len(ids) != len(set(ids)):
            raise ValueError(f"goal ids must be unique, got {ids}")
        return goals


# --------------------------------------------------------------------------- workflows

MILESTONES: tuple[str, ...] = ("greeted", "answered", "recommended_action", "next_steps_agreed")
"""Stage completions that are not tool calls; detected in CJ's and the merchant's messages."""


class DataRequirement(StrictModel):
    """A view a workflow needs and how fresh it must be."""

    view: str = Field(description="Data view name (cjsim list views).")
    refresh: str = Field(pattern=r"^\d+[smhd]$", description="Refresh interval, e.g. 5m, 1h, 24h.")

    @property
    def refresh_seconds(self) -> int:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[self.refresh[-1]]
        return int(self.refresh[:-1]) * unit


class Stage(StrictModel):
    """One step of a workflow's conversation flow, completed by a tool call or a milestone."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    tool: str | None = Field(default=None, description="A successful call of this tool completes the stage.")
    args: dict[str, Any] = Field(default_factory=dict, description="Arguments CJ uses when it drives the stage.")
    milestone: str | None = Field(default=None, description=f"One of {', '.join(MILESTONES)}.")

    @model_validator(mode="after")
    def _one_completion(self) -> Stage:
        if (self.tool is None) == (self.milestone is None):
            raise ValueError("a stage is completed by exactly one of 'tool' or 'milestone'")
        if self.milestone is not None and self.milestone not in MILESTONES:
            raise ValueError(f"unknown milestone {self.milestone!r}; valid milestones: {', '.join(MILESTONES)}")
        return self


class Transition(StrictModel):
    """Switch to another workflow when the merchant's message carries a trigger intent."""

    to: str
    trigger: str = Field(description="Intent id (data/intents.yaml) that fires the transition.")
    description: str = ""


class Workflow(StrictModel):
    """One workflow of ``data/workflow_definitions.yaml``."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    initiator: str = Field(pattern=r"^(cj|merchant)$", description="Who speaks first.")
    data_requirements: list[DataRequirement] = Field(default_factory=list)
    tools_available: list[str] = Field(
        min_length=1,
        description="Tools CJ is bound to: tool names, where 'all' stands for every view's tool (actions are named).",
    )
    conversation_flow: list[Stage] = Field(min_length=1)
    success_criteria: list[str] = Field(min_length=1)
    transitions: list[Transition] = Field(default_factory=list)
    prompt: str = Field(description="Workflow fragment of an LLM CJ's system prompt.")
    merchant_goals: list[MerchantGoal] = Field(
        default_factory=list,
        description="What the merchant wants from a conversation started in this workflow, in place of the "
        "scenario's goals (an operational workflow has its own agenda); empty: the scenario's goals.",
    )
    opening_line: str | None = Field(
        default=None,
        description="How the merchant opens a conversation started in this workflow (merchant-initiated), in place "
        "of the scenario's opening line; none: the scenario's.",
    )

    @model_validator(mode="after")
    def _stage_tools_bound(self) -> Workflow:
        ids = [s.id for s in self.conversation_flow]
        if len(ids) != len(set(ids)):
            raise ValueError(f"stage ids must be unique, got {ids}")
        return self


class WorkflowFile(StrictModel):
    """The whole ``data/workflow_definitions.yaml``."""

    version: int = Field(ge=1, description="Format version of this file.")
    workflows: list[Workflow] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> WorkflowFile:
        names = [w.name for w in self.workflows]
        if len(names) != len(set(names)):
            raise ValueError(f"workflow names must be unique, got {names}")
        for w in self.workflows:
            for t in w.transitions:
                if t.to not in names:
                    raise ValueError(f"workflow {w.name!r} transitions to unknown workflow {t.to!r}")
        return self
