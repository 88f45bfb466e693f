"""Number formatting shared by view text, CJ's answers and reports (one style everywhere)."""

from __future__ import annotations

__all__ = ["money", "pct", "rate_pct", "count", "hours", "signed_pct"]


def money(dollars: float | None) -> str:
    """``$52,340`` for large amounts, ``$45.20`` below $1,000; ``n/a`` when unknown."""
    if dollars is None:
        return "n/a"
    sign = "-" if dollars < 0 else ""
    value = abs(dollars)
    if value >= 1000:
        return f"{sign}${value:,.0f}"
    return f"{sign}${value:,.2f}"


def pct(value: float | None, digits: int = 1) -> str:
    """A percentage already in percent units: ``12.5%``."""
    return "n/a" if value is None else f"{value:.{digits}f}%"


def signed_pct(value: float | None) -> str:
    """A change in percent units with its sign: ``+12.5%`` / ``-3.0%``."""
    return "n/a" if value is None else f"{value:+.1f}%"


def rate_pct(fraction: float | None, digits: int = 1) -> str:
    """A fraction shown as a percentage: 0.0523 -> ``5.2%``."""
    return "n/a" if fraction is None else f"{fraction * 100:.{digits}f}%"


def count(value: int | float | None) -> str:
    """A count with thousands separators."""
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def hours(value: float | None) -> str:
    """Hours with one decimal: ``3.4h``."""
    return "n/a" if value is None else f"{value:.1f}h"
