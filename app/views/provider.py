"""The one interface behind CJ's tools: :class:`DataProvider` answers every registered view.

A provider implements two methods: :meth:`DataProvider.default_as_of` and
:meth:`DataProvider._compute`. Everything else comes from the registry: ``get_view(name, ...)``
validates the arguments with the view's argument model, and every registered view is also a
method named after it (``provider.ticket_metrics("7d")``), whose positional arguments follow the
argument model's field order.

A provider may also own an operations store (``ops``), where actions write; a read-only
provider without one refuses actions with a message saying how to give it one.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

from app.errors import DataUnavailableError, InvalidArgumentError
from app.views.base import ViewArgs, ViewResult
from app.views.registry import VIEWS, ViewSpec, view_spec

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from app.storage.ops import OpsStore

__all__ = ["DataProvider"]

R = TypeVar("R", bound=ViewResult)
T = TypeVar("T")


class DataProvider(abc.ABC):
    """Answers every view at a date.

    Every view takes ``as_of`` (the provider's default when omitted: the simulation clock for
    the DataAgent, the latest activity date for a production database). Implementations must
    honour the metric definitions in ``docs/metrics.md``; the conformance tests hold every
    provider to the same answers.

    Example:
        >>> from app.providers.data_agent import DataAgent
        >>> agent = DataAgent.create("growth_stall", "marcus_thompson", seed=1)
        >>> agent.daily_briefing().mrr.direction in {"up", "down", "flat"}
        True
        >>> agent.get_view("ticket_metrics", time_range="7d").time_range
        '7d'
    """

    name: str = "provider"
    ops: OpsStore | None = None
    """Where actions write (None: this provider cannot act)."""

    @abc.abstractmethod
    def default_as_of(self) -> dt.date:
        """The date views describe when ``as_of`` is omitted."""

    @abc.abstractmethod
    def _compute(self, view: str, args: ViewArgs, as_of: dt.date) -> ViewResult:
        """Compute one view (arguments already validated)."""

    def read_source(self, query: Callable[[Connection], T], within: Connection | None = None) -> T:
        """Run a read-only query function on a connection to the source data (what actions derived
        from the source, such as the retention queue, read). ``within`` is an open operations-store
        connection, used when the store shares the source's database (a generated world), so the read
        joins that transaction instead of disturbing it. A provider without SQL source data refuses."""
        raise DataUnavailableError(f"{type(self).__name__} has no SQL source data to read")

    def source_memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` remembered under ``key`` while the source data stays the same, for results
        derived from the source that several views and actions of a run share (the retention facts
        of a date). This base provider remembers nothing."""
        return compute()

    def action_clock(self) -> dt.datetime | None:
        """The time actions are stamped with; None means the wall clock."""
        return None

    def merchant_name(self) -> str:
        """Business name of the merchant the data describes."""
        return "the merchant"

    def merchant_identity(self) -> dict[str, Any] | None:
        """The merchant the data itself names (a real database's ``merchants`` row), or None when the
        merchant is a persona (a generated world). Conversations then speak as that merchant."""
        return None

    def data_range(self) -> tuple[dt.date, dt.date] | None:
        """(first, last) day the data covers; views refuse dates outside it (None: no known bounds)."""
        return None

    def data_gaps(self) -> tuple[str, ...]:
        """Reasons, as views word them, for kinds of data this provider holds none of (e.g. "no
        subscription data"); a CJ offers nothing that needs them. Empty: every kind is there."""
        return ()

    def check_as_of(self, as_of: dt.date, label: str = "as of") -> dt.date:
        """``as_of`` if the data covers it; otherwise an error naming the data's range.

        A date after the last day would answer with zeros and "flat", one before the first with
        nothing at all: neither describes the business, so both are refused.
        """
        bounds = self.data_range()
        if bounds is None:
            return as_of
        first, last = bounds
        if first <= as_of <= last:
            return as_of
        where = f"after the data's last day {last}" if as_of > last else f"before the data's first day {first}"
        raise InvalidArgumentError(f"{label} {as_of} is {where}; choose a date between {first} and {last}")

    def get_view(self, name: str, as_of: dt.date | None = None, /, **args: Any) -> ViewResult:
        """Answer the view ``name`` with keyword arguments validated by its argument model.

        ``name`` and ``as_of`` are positional-only, so a model's tool call with arguments of those
        names meets the argument model (and its "unknown argument" message) instead of them.

        Raises:
            InvalidArgumentError: bad arguments, or an ``as_of`` outside :meth:`data_range`.
        """
        spec = view_spec(name)
        parsed = spec.parse_args(args)
        return self._compute(name, parsed, self.check_as_of(as_of) if as_of else self.default_as_of())

    def get(self, spec: ViewSpec[Any, R], as_of: dt.date | None = None, **args: Any) -> R:
        """Typed form of :meth:`get_view`: the result has the spec's result type."""
        result = self.get_view(spec.name, as_of, **args)
        assert isinstance(result, spec.result)
        return result

    def __getattr__(self, name: str) -> Callable[..., Any]:
        # Every registered view is a method: provider.ticket_metrics("7d", as_of=...).
        spec = VIEWS.get(name)
        if spec is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        fields = list(spec.args.model_fields)

        def view_method(*positional: Any, as_of: dt.date | None = None, **kwargs: Any) -> ViewResult:
            if len(positional) > len(fields):
                raise InvalidArgumentError(
                    f"view {name!r} takes at most {len(fields)} positional arguments ({', '.join(fields) or 'none'})"
                )
            named = dict(zip(fields, positional, strict=False))
            clash = set(named) & set(kwargs)
            if clash:
                raise InvalidArgumentError(f"view {name!r} got {', '.join(sorted(clash))} twice")
            return self.get_view(name, as_of, **named, **kwargs)

        view_method.__name__ = name
        view_method.__doc__ = spec.description
        return view_method
