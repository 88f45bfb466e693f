"""Each subscriber's individual cancellation hazard in a generated world, kept with the world.

The generator draws a day's cancellations as one expected count, ``hazard x active``, and picks
who cancels by :func:`~app.world.state.pick_weight` (propensity x recent failed payment x recent
complaint x drift). So subscriber ``i``'s chance of cancelling on day ``d`` is
``hazard(d) x w_i(d) / mean_w(d)`` (the mean over the subscribers active that morning): their
*individual daily hazard*, and the day's expected count is exactly the sum of the active
subscribers' hazards. :class:`Fates` keeps what that needs -- the day's population hazard and
each subscriber's propensity and incident history -- so :mod:`app.world.response` can let an
intervention lower a treated subscriber's hazard, and forecasts can be judged against the true
hazard. The days' mean weights are computed on first use, all in one sweep (see
:meth:`Fates.hazard_scale`), so generating a world costs nothing extra.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING

from app.errors import InvalidArgumentError
from app.models import SignalType
from app.world.behaviour import BASELINE
from app.world.phases import Rates
from app.world.state import RECENT_DAYS, pick_weight

if TYPE_CHECKING:
    from app.world.state import WorldState

__all__ = ["SubscriberFate", "Fates", "fates_of"]

_NEVER = -(10**9)


@dataclass(frozen=True)
class SubscriberFate:
    """What decides one subscriber's hazard and billing, as the generator knew it.

    Days are date ordinals. ``failures`` and ``complaints`` are the days of failed payments and
    negative tickets, ``drifts`` the ``(start, until)`` of each drift, all in date order.
    """

    customer_id: str
    subscription_id: str
    segment: str
    propensity: float
    price_cents: int
    started: int
    cancelled: int | None
    failures: tuple[int, ...]
    complaints: tuple[int, ...]
    drifts: tuple[tuple[int, int], ...]

    def weight(self, ordinal: int, extra_failures: tuple[int, ...] = ()) -> float:
        """The cancellation weight at the start of ``ordinal`` (incidents of earlier days only)."""
        fail = max(_last_before(self.failures, ordinal), _last_before(extra_failures, ordinal))
        return pick_weight(self.propensity, fail, _last_before(self.complaints, ordinal),
                           self.drift_until(ordinal), ordinal)  # fmt: skip

    def known_at(self, ordinal: int) -> SubscriberFate:
        """The subscriber as known at the end of ``ordinal``: later incidents and drifts dropped."""
        return replace(self, failures=tuple(d for d in self.failures if d <= ordinal),
                       complaints=tuple(d for d in self.complaints if d <= ordinal),
                       drifts=tuple(x for x in self.drifts if x[0] <= ordinal))  # fmt: skip

    def drift_until(self, ordinal: int) -> int:
        """The end of the drift started before ``ordinal`` (0 when there is none)."""
        k = bisect.bisect_left(self.drifts, (ordinal,)) - 1
        return self.drifts[k][1] if k >= 0 else 0


def _last_before(days: tuple[int, ...], ordinal: int) -> int:
    k = bisect.bisect_left(days, ordinal) - 1
    return days[k] if k >= 0 else _NEVER


@dataclass(frozen=True)
class _Record:
    """What a generation run leaves behind for :class:`Fates` (its lists, not copies)."""

    customer_ids: list[str]
    subscription_rows: list[dict]
    customer_rows: list[dict]
    propensity: list[float]
    price_cents: list[int]
    started: list[int]
    cancelled: list[int | None]
    signals: list[tuple[int, str, str, float]]
    drift_log: list[tuple[int, int, int]]


class Fates:
    """The hazard inputs of one generated world (see the module docstring).

    Built from the generation run's own lists; the per-subscriber view is assembled on first use,
    so a world nobody intervenes in pays nothing for it.
    """

    def __init__(self, seed: int, start: dt.date, horizon: dt.date, base_hazard: float,
                 rates: tuple[Rates, ...], record: _Record) -> None:  # fmt: skip
        self.seed, self.start, self.horizon = seed, start, horizon
        self.base_hazard, self.rates = base_hazard, rates
        self._record = record
        self._scale: dict[int, float] = {}

    @cached_property
    def subscribers(self) -> dict[str, SubscriberFate]:
        """Every subscriber of the world by customer id."""
        r = self._record
        failures: dict[str, list[int]] = {}
        complaints: dict[str, list[int]] = {}
        for ordinal, cid, kind, _ in r.signals:
            if kind == SignalType.failed_payment.value:
                failures.setdefault(cid, []).append(ordinal)
            elif kind == SignalType.negative_ticket.value:
                complaints.setdefault(cid, []).append(ordinal)
        drifts: dict[int, list[tuple[int, int]]] = {}
        for i, start, until in r.drift_log:
            drifts.setdefault(i, []).append((start, until))
        return {
            cid: SubscriberFate(
                customer_id=cid,
                subscription_id=r.subscription_rows[i]["subscription_id"],
                segment=r.customer_rows[i]["segment_hint"],
                propensity=r.propensity[i],
                price_cents=r.price_cents[i],
                started=r.started[i],
                cancelled=r.cancelled[i],
                failures=tuple(sorted(failures.get(cid, ()))),
                complaints=tuple(sorted(complaints.get(cid, ()))),
                drifts=tuple(sorted(drifts.get(i, ()))),
            )
            for i, cid in enumerate(r.customer_ids)
        }

    def subscriber(self, customer_id: str) -> SubscriberFate:
        """The subscriber of ``customer_id``; an unknown id is refused with a clear message."""
        fate = self.subscribers.get(customer_id)
        if fate is None:
            raise InvalidArgumentError(f"{customer_id!r} is not a subscriber of this world; list customers with customer_list")
        return fate

    def day_index(self, ordinal: int) -> int:
        """Index of ``ordinal`` in the simulated days; outside them is an error."""
        t = ordinal - self.start.toordinal()
        if not 0 <= t < len(self.rates):
            raise InvalidArgumentError(
                f"{dt.date.fromordinal(ordinal)} is outside the simulated days {self.start}..{self.horizon}"
            )
        return t

    def hazard(self, customer_id: str, day: dt.date) -> float:
        """The subscriber's chance of cancelling on ``day`` if still active then (their own incidents)."""
        ordinal = day.toordinal()
        return self.hazard_scale(ordinal) * self.subscriber(customer_id).weight(ordinal)

    def hazard_scale(self, ordinal: int) -> float:
        """The day's population hazard over the mean weight of the subscribers active that morning."""
        if not self._scale:
            self._scale = self._scales()
        self.day_index(ordinal)  # outside the simulated days is an error
        return self._scale[ordinal]

    def _scales(self) -> dict[int, float]:
        """:meth:`hazard_scale` of every simulated day in one sweep over the subscribers.

        A subscriber weighs ``min(propensity, cap)`` on every active day but those just after an
        incident or within a drift, so the days' totals are running sums of that base weight (added
        the morning after the start, removed the morning after the cancellation) plus, for the few
        subscribers with incidents, their exact weight minus the base on the days an incident can
        touch. A day-by-day pass over every subscriber would cost a pass per day.
        """
        first, last = self.start.toordinal(), self.horizon.toordinal()
        days = last - first + 1
        count, total = [0] * (days + 1), [0.0] * (days + 1)  # differences, applied by the running sums
        extra = [0.0] * days
        cap = BASELINE.weight_cap
        for f in self.subscribers.values():
            on, off = max(f.started + 1, first), min(f.cancelled + 1 if f.cancelled is not None else last + 1, last + 1)
            if on >= off:
                continue
            base = min(f.propensity, cap)
            count[on - first] += 1
            count[off - first] -= 1
            total[on - first] += base
            total[off - first] -= base
            if f.failures or f.complaints or f.drifts:
                touched = {d for t in (*f.failures, *f.complaints) for d in range(t + 1, t + RECENT_DAYS + 1)}
                touched.update(d for start, until in f.drifts for d in range(start + 1, until))
                for d in touched:
                    if on <= d < off:
                        extra[d - first] += f.weight(d) - base
        scales, n, w = {}, 0, 0.0
        for t in range(days):
            n, w = n + count[t], w + total[t]
            hazard = self.base_hazard * self.rates[t].churn
            weight = w + extra[t]
            scales[first + t] = hazard * n / weight if n and weight > 0 else hazard
        return scales


def fates_of(state: WorldState) -> Fates:
    """The fates of a finished generation run (its lists are kept, not copied)."""
    record = _Record(
        customer_ids=state.cust_id,
        subscription_rows=state.sub_rows,
        customer_rows=state.customers,
        propensity=state.prop,
        price_cents=state.price,
        started=state.started,
        cancelled=[None if r["cancelled_on"] is None else r["cancelled_on"].toordinal() for r in state.sub_rows],
        signals=state.signals,
        drift_log=state.drift_log,
    )
    return Fates(state.spec.seed, state.start, state.horizon, state.base_hazard, tuple(state.rates), record)
