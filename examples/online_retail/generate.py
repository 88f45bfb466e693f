"""Write ``invoices.csv``: a small line-level export in the shape of the UCI Online Retail file.

Deterministic (a fixed seed, no clock): running it again gives the same bytes. The shape is the
one a gift retailer's invoice-line export has: ``InvoiceNo`` (cancellations numbered ``C...``),
``StockCode``, ``Description``, ``Quantity`` (negative on cancellations), ``InvoiceDate`` like
``12/1/2010 8:26``, ``UnitPrice`` in pounds with fractions of a penny, ``CustomerID`` (blank for
guest checkouts) and ``Country`` as a name. ``benchmarks/bench_import.py`` uses :func:`write_export`
to make the 541,909-line file.

Usage: ``python examples/online_retail/generate.py [OUT.csv] [--lines N]``
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
from pathlib import Path

__all__ = ["COUNTRIES", "write_export"]

COUNTRIES = (
    ("United Kingdom", 80), ("Germany", 4), ("France", 4), ("EIRE", 3), ("Spain", 1), ("Netherlands", 1),
    ("Belgium", 1), ("Switzerland", 1), ("Portugal", 1), ("Australia", 1), ("Norway", 1), ("Unspecified", 1),
)
"""Country names as the export writes them, with their weights."""

_PRODUCTS = [
    ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "2.55"), ("71053", "WHITE METAL LANTERN", "3.39"),
    ("84406B", "CREAM CUPID HEARTS COAT HANGER", "2.75"), ("22752", "SET 7 BABUSHKA NESTING BOXES", "7.65"),
    ("21730", "GLASS STAR FROSTED T-LIGHT HOLDER", "4.25"), ("22633", "HAND WARMER UNION JACK", "1.85"),
    ("84879", "ASSORTED COLOUR BIRD ORNAMENT", "1.69"), ("22745", "POPPY'S PLAYHOUSE BEDROOM", "2.1"),
    ("21754", "HOME BUILDING BLOCK WORD", "5.95"), ("22310", "IVORY KNITTED MUG COSY", "1.65"),
    ("84969", "BOX OF 6 ASSORTED COLOUR TEASPOONS", "4.25"), ("22623", "BOX OF VINTAGE JIGSAW BLOCKS", "4.95"),
    ("16237", "SLEEPING CAT ERASERS", "0.165"), ("22617", "BAKING SET SPACEBOY DESIGN", "4.95"),
    ("POST", "POSTAGE", "18"), ("21777", "RECIPE BOX WITH METAL HEART", "7.95"),
    ("22960", "JAM MAKING SET WITH JARS", "4.25"), ("84997D", "PINK 3 PIECE POLKADOT CUTLERY SET", "3.75"),
    ("17003", "BROCADE RING PURSE", "0.21"), ("15036", "ASSORTED COLOURS SILK FAN", "0.72"),
]


def _date(moment: dt.datetime) -> str:
    return f"{moment.month}/{moment.day}/{moment.year} {moment.hour}:{moment.minute:02d}"


def write_export(path: Path, lines: int, *, seed: int = 7, customers: int | None = None) -> int:
    """Write about ``lines`` invoice lines (exactly ``lines``) to ``path``; returns the lines written."""
    rng = random.Random(seed)
    n_customers = customers or max(20, lines // 120)
    people = [
        (str(12346 + i), rng.choices([c for c, _ in COUNTRIES], [w for _, w in COUNTRIES])[0]) for i in range(n_customers)
    ]
    start = dt.datetime(2010, 12, 1, 8, 26)
    span_minutes = 373 * 24 * 60  # 2010-12-01 .. 2011-12-09
    written, invoice = 0, 536365
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"])
        while written < lines:
            moment = start + dt.timedelta(minutes=int(span_minutes * written / lines) + rng.randrange(30))
            guest = rng.random() < 0.25
            customer, country = ("", "United Kingdom") if guest else rng.choice(people)
            cancelled = not guest and rng.random() < 0.08
            number = f"C{invoice}" if cancelled else str(invoice)
            invoice += 1
            for _ in range(min(lines - written, rng.randint(1, 3) if cancelled else rng.randint(1, 40))):
                code, description, price = rng.choice(_PRODUCTS)
                quantity = rng.choice((1, 2, 3, 4, 6, 12, 24))
                out.writerow([number, code, description, -quantity if cancelled else quantity, _date(moment),
                              price, customer, country])
                written += 1
    return written


def main() -> None:
    """Command line: write the example export (default: 4,000 lines next to this script)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path(__file__).with_name("invoices.csv"))
    parser.add_argument("--lines", type=int, default=4000)
    args = parser.parse_args()
    print(f"{write_export(args.out, args.lines)} lines written to {args.out}")


if __name__ == "__main__":
    main()
