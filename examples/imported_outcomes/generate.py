"""Write ``realised_outcomes.csv``: the outcomes of a launch with a holdout, as a merchant would export them.

The "real" launch is a generated world the example run never saw (``steady_operations``,
``marcus_thompson``, seed 100): its target population (deal seekers and casual subscribers
active on the start day) is randomised into treated and holdout (30% held out, the same complete
randomisation as a simulated experiment); each treated customer shows their outcome with
``loyalty_discount`` landed, each held-out one their outcome without it, over 30 days. So the
figures are what that action really does in a business like the simulated ones.

Deterministic (fixed seeds, no clock): running it again gives the same bytes.

Usage: ``python examples/imported_outcomes/generate.py [OUT.csv]``
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

from app.experiments import InterventionSpec, WorldKey, potential_outcomes
from app.experiments.runner import assign
from app.world.effects import load_intervention_effects

__all__ = ["LAUNCH_WORLD", "LAUNCH", "write_outcomes"]

LAUNCH_WORLD = WorldKey("steady_operations", "marcus_thompson", 100)
"""The world that plays the merchant's business during the launch."""

LAUNCH = InterventionSpec(name="discount launch", action="loyalty_discount", segments=["deal_seeker", "casual"],
                          holdout_share=0.3)  # fmt: skip
"""The action launched, its target and holdout."""


def write_outcomes(out: Path) -> int:
    """Write the outcomes file to ``out``; returns the number of customers."""
    po = potential_outcomes(LAUNCH_WORLD, LAUNCH, load_intervention_effects())
    treated = assign(po.size, LAUNCH.holdout_share, random.Random("cjsim/example/imported-outcomes"))
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["customer_id", "group", "retained", "converted", "revenue_cents", "segment"])
        for i, cid in enumerate(po.customer_ids):
            arm = po.treated if treated[i] else po.untreated
            writer.writerow([cid, "treated" if treated[i] else "holdout", arm["retained"][i], arm["converted"][i],
                             arm["revenue_cents"][i], po.segments[i]])  # fmt: skip
    return po.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path(__file__).with_name("realised_outcomes.csv"))
    args = parser.parse_args()
    print(f"{args.out}: {write_outcomes(args.out)} customers")


if __name__ == "__main__":
    main()
