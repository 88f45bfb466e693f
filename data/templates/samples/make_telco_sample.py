"""Write telco_churn_sample.csv: 200 synthetic subscribers in the shape of the public telco churn export.

Every value is drawn from a seeded generator (no real data). Three new subscribers (tenure 0)
have a blank TotalCharges, as in the public export; the telecom template rejects them.

Run: ``python data/templates/samples/make_telco_sample.py`` (the output is the same every time).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

HEADER = [
    "customerID", "gender", "SeniorCitizen", "Partner", "Dependents", "tenure", "PhoneService", "MultipleLines",
    "InternetService", "OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport", "StreamingTV",
    "StreamingMovies", "Contract", "PaperlessBilling", "PaymentMethod", "MonthlyCharges", "TotalCharges", "Churn",
]
PAYMENTS = ["Electronic check", "Mailed check", "Bank transfer (automatic)", "Credit card (automatic)"]
ADDONS = ["OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport", "StreamingTV", "StreamingMovies"]
BLANK_TOTALS = {17, 88, 151}
"""Rows (0-based) of new subscribers whose TotalCharges is blank."""


def _id(rng: random.Random) -> str:
    letters = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(5))
    return f"{rng.randrange(10_000):04d}-{letters}"


def rows(n: int = 200, seed: int = 7) -> list[dict[str, str]]:
    """``n`` subscribers drawn with ``seed``."""
    rng = random.Random(seed)
    out, seen = [], set()
    for i in range(n):
        cid = _id(rng)
        while cid in seen:
            cid = _id(rng)
        seen.add(cid)
        contract = rng.choices(["Month-to-month", "One year", "Two year"], weights=[55, 21, 24])[0]
        tenure = 0 if i in BLANK_TOTALS else rng.randint(1, 24 if contract == "Month-to-month" else 72)
        phone = rng.random() < 0.9
        internet = rng.choices(["DSL", "Fiber optic", "No"], weights=[34, 44, 22])[0]
        r = {
            "customerID": cid,
            "gender": rng.choice(["Female", "Male"]),
            "SeniorCitizen": "1" if rng.random() < 0.16 else "0",
            "Partner": rng.choice(["Yes", "No"]),
            "Dependents": "Yes" if rng.random() < 0.3 else "No",
            "tenure": str(tenure),
            "PhoneService": "Yes" if phone else "No",
            "MultipleLines": ("Yes" if rng.random() < 0.45 else "No") if phone else "No phone service",
            "InternetService": internet,
        }
        for addon in ADDONS:
            r[addon] = "No internet service" if internet == "No" else ("Yes" if rng.random() < 0.4 else "No")
        base = 20.0 if internet == "No" else (45.0 if internet == "DSL" else 70.0)
        monthly = round(base + 5 * sum(r[a] == "Yes" for a in ADDONS) + (5 if r["MultipleLines"] == "Yes" else 0)
                        + rng.uniform(-2, 2), 2)
        churn_p = {"Month-to-month": 0.42, "One year": 0.11, "Two year": 0.03}[contract]
        r |= {
            "Contract": contract,
            "PaperlessBilling": "Yes" if rng.random() < 0.6 else "No",
            "PaymentMethod": rng.choice(PAYMENTS),
            "MonthlyCharges": f"{monthly:.2f}",
            "TotalCharges": " " if tenure == 0 else f"{monthly * tenure * rng.uniform(0.97, 1.03):.2f}",
            "Churn": "Yes" if tenure > 0 and rng.random() < churn_p else "No",
        }
        out.append(r)
    return out


def main() -> None:
    """Write the sample next to this script."""
    path = Path(__file__).with_name("telco_churn_sample.csv")
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=HEADER, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
