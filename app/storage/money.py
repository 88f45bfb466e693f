"""Money grammars of imports: the one place that says which texts are amounts.

Two grammars, both strict (anything else is a rejected row with the reason, never a guess):

* **Mapping version 1** (``parse_export_money``), for exports as shops write them: an optional
  sign, an optional currency symbol (``$ € £ ¥``) or ISO code (``USD``) before or after the
  number, digits with optional thousands separators in groups of three, an optional decimal
  part, accounting negatives ``(12.00)`` and ``12.00-``. The decimal separator is the mapping's
  (``.`` or ``,``); the other one is the thousands separator. ``1e3``, ``5,00`` (with ``.``
  decimals) and ``12 34`` are rejected.
* **Mapping version 2** (:data:`PLAIN_NUMBER`), for expressions: an optional sign, 1 to
  :data:`MAX_DIGITS` digits and an optional ``.`` with 1 to :data:`MAX_DECIMALS` digits: ``-12``,
  ``2.55``, ``0.165``. Nothing else: no symbols, separators, exponents or spaces inside.

Intermediate values keep every decimal (fractions of a cent included); an amount stored in a
``*_cents`` column is rounded once, at the end, **half away from zero** (``0.125`` -> 13 cents,
``-0.125`` -> -13 cents), which is also how DuckDB rounds decimals.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["MAX_DECIMALS", "MAX_DIGITS", "PLAIN_NUMBER", "MoneyError", "parse_export_money", "parse_plain_number"]

MAX_DECIMALS = 6
"""Decimal places a version-2 number may have (fractions of a cent are fine, 6 places at most)."""

MAX_DIGITS = 12
"""Digits a version-2 number may have before the point: products of two amounts stay exact in
DuckDB's 38-digit decimals."""

PLAIN_NUMBER = rf"[+-]?[0-9]{{1,{MAX_DIGITS}}}(\.[0-9]{{1,{MAX_DECIMALS}}})?"
"""The version-2 number grammar as a regular expression (matched against the whole trimmed text)."""

_PLAIN = re.compile(PLAIN_NUMBER)

_CURRENCY = r"(?:[$€£¥]|[A-Z]{3})"


def _export_pattern(decimal_separator: str) -> re.Pattern[str]:
    thousands = "," if decimal_separator == "." else r"\."
    dec = re.escape(decimal_separator)
    number = rf"(?P<int>[0-9]{{1,3}}(?:{thousands}[0-9]{{3}})+|[0-9]+)(?:{dec}(?P<frac>[0-9]+))?|{dec}(?P<only>[0-9]+)"
    return re.compile(
        rf"(?P<open>\()?\s*(?P<sign>[+-])?\s*{_CURRENCY}?\s*(?:{number})\s*{_CURRENCY}?\s*(?P<trail>-)?\s*(?P<close>\))?"
    )


_EXPORT = {sep: _export_pattern(sep) for sep in (".", ",")}


class MoneyError(ValueError):
    """A text that is not an amount in the grammar (the message says why)."""


def parse_export_money(text: str, decimal_separator: str = ".") -> Decimal:
    """Read an amount written by an export (version-1 grammar, see the module docstring).

    >>> parse_export_money("$1,234.50"), parse_export_money("(12.00)"), parse_export_money("1.234,5", ",")
    (Decimal('1234.50'), Decimal('-12.00'), Decimal('1234.5'))
    """
    raw = text.strip()
    match = _EXPORT[decimal_separator].fullmatch(raw)
    if match is None or bool(match["open"]) != bool(match["close"]):
        sep = "1,234.50" if decimal_separator == "." else "1.234,50"
        raise MoneyError(f"{text!r} is not an amount (expected digits like {sep}, optionally a sign or currency)")
    if match["only"] is not None:
        digits = "0." + match["only"]
    else:
        whole = re.sub(r"[^0-9]", "", match["int"])
        digits = whole + ("." + match["frac"] if match["frac"] is not None else "")
    value = Decimal(digits)
    negative = (match["sign"] == "-") ^ bool(match["open"]) ^ bool(match["trail"])
    return -value if negative else value


def parse_plain_number(text: str) -> Decimal:
    """Read a number in the version-2 grammar (:data:`PLAIN_NUMBER`).

    >>> parse_plain_number(" -2.55 ")
    Decimal('-2.55')
    """
    raw = text.strip()
    if not _PLAIN.fullmatch(raw):
        raise MoneyError(
            f"{text!r} is not a number (expected up to {MAX_DIGITS} digits with an optional sign and up to "
            f"{MAX_DECIMALS} decimals)"
        )
    try:
        return Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the grammar admits only valid decimals
        raise MoneyError(f"{text!r} is not a number") from None
