"""The 90-second retention operations demo: from an alert to a delivered action pack, twice.

1. On a generated world (churn_spike, Marcus Thompson's shop): alert decision, operational context,
   priority queue, brief, P1 export, and the playbook in shadow mode (nothing posted).
2. On the example line-level export (examples/online_retail: invoice lines imported with
   ``cjsim db init`` and ``cjsim db import``), read through the production provider with an
   operations store of its own: the same six steps.

Everything it writes (the database, the operations stores, the exports, the brief and the shadow
payload) goes to a temporary folder that is removed at the end. Run it with
``python examples/retention_ops_demo.py``; it needs no network.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.providers.data_agent import DataAgent  # noqa: E402
from app.providers.production import ProductionDataProvider  # noqa: E402
from app.retention.delivery import PlaybookSettings  # noqa: E402
from app.storage.ops import OpsStore  # noqa: E402
from app.tools import call_tool  # noqa: E402
from app.views import DataProvider  # noqa: E402
from app.views.retention_playbook import using_playbook_settings  # noqa: E402


def alert_day(provider: DataProvider, look_back: int = 150) -> dt.date:
    """The latest day with a WARNING or CRITICAL alert in the last ``look_back`` days (else today)."""
    today = provider.default_as_of()
    start = provider.data_range()
    for back in range(look_back):
        day = today - dt.timedelta(days=back)
        if start is not None and day < start[0]:
            break
        if provider.get_view("get_alert_decision", None, date=day).to_json()["alert_flag"]:
            return day
    return today


def demo(provider: DataProvider, title: str) -> None:
    """The six steps of the demo on one provider, each printed with its elapsed time."""
    day = alert_day(provider).isoformat()
    print(f"\n=== {title}: {day} ===")
    started = time.perf_counter()
    steps: list[tuple[str, dict[str, object]]] = [
        ("get_alert_decision", {"date": day}),
        ("get_operational_context", {"date": day}),
        ("build_priority_queue", {"date": day}),
        ("generate_brief", {"date": day, "format": "slack"}),
        ("export_audience", {"date": day, "tier": "P1"}),
        ("trigger_playbook", {"date": day}),
    ]
    for tool, args in steps:
        text, _ = call_tool(provider, tool, args, approval="approved", actor="demo")
        print(f"\n[T+{time.perf_counter() - started:4.1f}s] {tool}\n{text}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.chdir(folder)  # the exports' relative folder lands here
        shadow = PlaybookSettings(output_dir=str(folder / "runs"), outbox_dir=str(folder / "outbox"))
        with using_playbook_settings(shadow):
            world = DataAgent.create("churn_spike", "marcus_thompson", seed=0)
            world.ops = OpsStore.from_url(f"sqlite:///{folder / 'world_ops.db'}")
            demo(world, "Generated world: churn_spike, Marcus Thompson")

            db = f"sqlite:///{folder / 'retail.db'}"
            examples = ROOT / "examples" / "online_retail"
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            for args in (
                ["db", "init", "--url", db],
                ["db", "import", "--url", db, "--mapping", str(examples / "mapping.yaml"),
                 "--orders", str(examples / "invoices.csv")],
            ):  # fmt: skip
                subprocess.run([sys.executable, "-m", "app", *args], check=True, env=env, capture_output=True)
            retail = ProductionDataProvider(db, ops_url=f"sqlite:///{folder / 'retail_ops.db'}")
            demo(retail, "Imported line-level export: examples/online_retail")
            retail.close()
        os.chdir(ROOT)
    print("\nDone: both action packs were built in shadow mode; nothing was posted.")


if __name__ == "__main__":
    main()
