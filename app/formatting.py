"""Number formatting shared by view text, CJ's answers and reports (one style everywhere).

Money is shown in the merchant's currency (``merchants.currency``, ISO 4217): its symbol and its
number of minor-unit digits come from :data:`CURRENCIES`. Amounts of 1,000 or more are shown in
whole units (``£52,340``), smaller ones with their minor units (``£45.20``); a currency without
minor units (yen) never shows decimals. A code missing from the table is written before the
amount (``ZAR 1,234``) with two decimals, so an unknown currency is never shown as dollars.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Currency",
    "CURRENCIES",
    "DEFAULT_CURRENCY",
    "currency_info",
    "to_major",
    "money",
    "pct",
    "rate_pct",
    "points",
    "count",
    "counted",
    "hours",
    "signed_pct",
]


@dataclass(frozen=True)
class Currency:
    """How amounts of one ISO 4217 currency are written."""

    code: str
    symbol: str
    """Written before the amount; ends with a space when it is letters (``CHF 12.00``)."""
    digits: int = 2
    """Minor-unit digits: amounts are stored as integers of 10**-digits units."""


CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("USD", "$"),
        Currency("GBP", "£"),
        Currency("EUR", "€"),
        Currency("JPY", "¥", 0),
        Currency("CNY", "CN¥"),
        Currency("KRW", "₩", 0),
        Currency("INR", "₹"),
        Currency("CAD", "CA$"),
        Currency("AUD", "A$"),
        Currency("NZD", "NZ$"),
        Currency("MXN", "MX$"),
        Currency("BRL", "R$"),
        Currency("CHF", "CHF "),
        Currency("SEK", "SEK "),
        Currency("NOK", "NOK "),
        Currency("DKK", "DKK "),
        Currency("PLN", "PLN "),
        Currency("ISK", "ISK ", 0),
    )
}
"""ISO 4217 code -> symbol and minor-unit digits of the currencies cjsim knows by symbol."""

DEFAULT_CURRENCY = "USD"


def currency_info(code: str | None) -> Currency:
    """The :class:`Currency` of an ISO code (USD when None; unknown codes are written as the code)."""
    code = (code or DEFAULT_CURRENCY).upper()
    return CURRENCIES.get(code) or Currency(code, f"{code} ")


def to_major(minor: int | float, currency: str | None = None) -> float:
    """Stored minor units (cents, pence; yen are their own minor unit) to major units, exact."""
    digits = currency_info(currency).digits
    return round(minor / 10**digits, digits)


def money(value: float | None, currency: str | None = None) -> str:
    """``$52,340`` for large amounts, ``$45.20`` below 1,000 (``£``, ``€``, ``¥4,500``...); ``n/a`` when unknown."""
    if value is None:
        return "n/a"
    cur = currency_info(currency)
    sign = "-" if value < 0 else ""
    amount = abs(value)
    decimals = 0 if amount >= 1000 or cur.digits == 0 else cur.digits
    return f"{sign}{cur.symbol}{amount:,.{decimals}f}"


def pct(value: float | None, digits: int = 1) -> str:
    """A percentage already in percent units: ``12.5%``."""
    return "n/a" if value is None else f"{value:.{digits}f}%"


def signed_pct(value: float | None) -> str:
    """A change in percent units with its sign: ``+12.5%`` / ``-3.0%``."""
    return "n/a" if value is None else f"{value:+.1f}%"


def rate_pct(fraction: float | None, digits: int = 1) -> str:
    """A fraction shown as a percentage: 0.0523 -> ``5.2%``."""
    return "n/a" if fraction is None else f"{fraction * 100:.{digits}f}%"


def points(value: float | None) -> str:
    """A change of a rate in percentage points: ``10.4 points`` (``1.0 point``)."""
    if value is None:
        return "n/a"
    return f"{abs(value):.1f} point{'' if abs(value) == 1 else 's'}"


def count(value: int | float | None) -> str:
    """A count with thousands separators."""
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def counted(value: int, noun: str) -> str:
    """A count with its noun, singular for one: ``1 order``, ``1,204 orders``."""
    return f"{count(value)} {noun}{'' if value == 1 else 's'}"


def hours(value: float | None) -> str:
    """Hours with one decimal: ``3.4h``."""
    return "n/a" if value is None else f"{value:.1f}h"
