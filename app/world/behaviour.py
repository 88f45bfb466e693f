"""Baseline behaviour of subscribers and support, as small typed tables.

Personas set a merchant's headline rates (churn, tickets per subscriber, CAC, response time,
CSAT); scenario phases multiply them. Everything else the generator needs -- customer segments,
the ticket-category mix, cancel-reason weights, skip and failed-payment rates, signal strengths --
lives here, in one place, so a calibration change is a one-line diff.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from app.models import CancelReason, SignalType, TicketCategory

__all__ = [
    "Segment",
    "SEGMENTS",
    "CategoryProfile",
    "CATEGORY_PROFILES",
    "CANCEL_REASON_WEIGHTS",
    "SIGNAL_STRENGTHS",
    "RISK_WEIGHTS",
    "BaselineRates",
    "BASELINE",
]


@dataclass(frozen=True)
class Segment:
    """A behavioural segment, stored as ``customers.segment_hint``.

    ``propensity`` scales the subscriber's chance of being the one who cancels (and of skipping a
    box, failing a payment, filing a complaint); the weights average to about 1.
    """

    hint: str
    weight: float
    propensity: float


SEGMENTS: tuple[Segment, ...] = (
    Segment("loyal", weight=0.25, propensity=0.45),
    Segment("engaged", weight=0.35, propensity=0.8),
    Segment("casual", weight=0.25, propensity=1.3),
    Segment("deal_seeker", weight=0.15, propensity=1.9),
)


@dataclass(frozen=True)
class CategoryProfile:
    """Baseline share of a ticket category and how its tickets tend to feel.

    ``negative``/``positive`` are sentiment probabilities; ``targets_risky`` means the filer is
    drawn by churn propensity (complaints come from unhappy customers) rather than uniformly.
    ``priority_bias`` multiplies the chance of a high or urgent priority.
    """

    share: float
    negative: float
    positive: float
    targets_risky: bool
    priority_bias: float


CATEGORY_PROFILES: Mapping[TicketCategory, CategoryProfile] = MappingProxyType(
    {
        TicketCategory.shipping_delay: CategoryProfile(0.22, 0.50, 0.04, True, 1.1),
        TicketCategory.fulfillment: CategoryProfile(0.12, 0.45, 0.05, True, 1.0),
        TicketCategory.billing: CategoryProfile(0.18, 0.45, 0.05, True, 1.3),
        TicketCategory.cancellation: CategoryProfile(0.10, 0.55, 0.03, True, 1.2),
        TicketCategory.product_quality: CategoryProfile(0.13, 0.55, 0.05, True, 1.0),
        TicketCategory.account: CategoryProfile(0.10, 0.15, 0.15, False, 0.7),
        TicketCategory.general: CategoryProfile(0.15, 0.08, 0.35, False, 0.5),
    }
)
"""Ticket category -> profile; shares sum to 1."""

CANCEL_REASON_WEIGHTS: Mapping[CancelReason, float] = MappingProxyType(
    {
        CancelReason.too_expensive: 0.24,
        CancelReason.switching_to_competitor: 0.09,
        CancelReason.product_quality: 0.11,
        CancelReason.shipping_issues: 0.09,
        CancelReason.not_using: 0.22,
        CancelReason.payment_failed: 0.10,
        CancelReason.other: 0.15,
    }
)
"""Baseline weight of each cancel reason (before phase multipliers and personal history)."""

SIGNAL_STRENGTHS: Mapping[SignalType, tuple[float, float]] = MappingProxyType(
    {
        SignalType.failed_payment: (0.6, 0.95),
        SignalType.skipped_box: (0.4, 0.85),
        SignalType.negative_ticket: (0.4, 0.9),
        SignalType.engagement_drop: (0.45, 0.95),
    }
)
"""Uniform range of ``customer_signals.strength`` per signal type."""

RISK_WEIGHTS: Mapping[SignalType, float] = MappingProxyType(
    {
        SignalType.failed_payment: 0.6,
        SignalType.negative_ticket: 0.5,
        SignalType.engagement_drop: 0.4,
        SignalType.skipped_box: 0.35,
    }
)
"""Weights of the views' risk score ``1 - prod(1 - w x strength)`` (documented for calibration)."""


@dataclass(frozen=True)
class BaselineRates:
    """Rates not set by the persona (each may be scaled by a phase multiplier)."""

    skip_rate: float = 0.05
    """Chance a billing cycle is skipped (no order, a ``skipped_box`` signal)."""
    failed_payment_rate: float = 0.02
    """Chance a billing cycle's payment fails (order status ``failed``, a signal)."""
    refund_rate: float = 0.01
    """Chance a paid order is later refunded (status ``refunded``)."""
    addon_rate: float = 0.08
    """Chance a paid order carries an add-on on top of the plan price."""
    engagement_drop_rate: float = 0.015
    """Background ``engagement_drop`` signals per active subscriber per 30 days."""
    drift_rate: float = 0.065
    """Subscribers starting to drift away per active subscriber per 30 days (x phase.churn)."""
    drift_days: tuple[int, int] = (30, 90)
    """How long a drift lasts if the subscriber does not cancel first (uniform range)."""
    drift_boost: float = 6.0
    """Cancellation propensity multiplier while drifting."""
    drift_skip_boost: float = 3.0
    """Box-skip multiplier while drifting."""
    drift_followups: tuple[tuple[int, int], ...] = ((5, 12), (13, 24), (25, 40))
    """Days after the drift starts at which further ``engagement_drop`` signals follow."""
    pre_churn_signal: float = 0.75
    """Chance a cancelling subscriber who was not drifting still showed an ``engagement_drop``."""
    weight_cap: float = 12.0
    """Upper bound of a subscriber's combined propensity weight (keeps rejection sampling fast)."""
    recent_failure_boost: float = 2.5
    """Propensity multiplier for 30 days after a failed payment."""
    recent_complaint_boost: float = 1.8
    """Propensity multiplier for 30 days after a negative ticket."""
    conversion_rate: float = 0.025
    """Site visitors per new subscriber = 1 / conversion_rate."""
    email_deliverability: float = 0.97
    urgent_share: float = 0.03
    high_share: float = 0.16
    low_share: float = 0.22
    rated_share: float = 0.45
    """Share of resolved tickets that receive a CSAT rating."""
    unresolved_share: float = 0.03
    """Share of tickets left unresolved indefinitely (grows with phase.first_response)."""
    resolution_hours: float = 20.0
    """Median hours from first response to resolution at baseline."""
    response_sigma: float = 0.7
    """Log-normal spread of response and resolution times."""
    count_jitter: float = 0.08
    """Daily relative jitter of expected counts (arrivals, cancellations, tickets)."""


BASELINE = BaselineRates()
