"""The commands of docs/import_walkthrough.md run as written, in order, and do what the page says."""

from __future__ import annotations

import csv
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "import_walkthrough.md"
_BASH = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)


def commands() -> list[list[str]]:
    """Every command of the page's bash blocks, in order."""
    out = []
    for block in _BASH.findall(DOC.read_text(encoding="utf-8")):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                out.append(shlex.split(line))
    return out


def test_the_walkthrough_commands_run(tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # the page's paths, without writing to the repository
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    outputs = {}
    cmds = commands()
    assert [c[:3] for c in cmds if c[0] == "cjsim"][:2] == [["cjsim", "db", "init"], ["cjsim", "db", "import"]]
    for cmd in cmds:
        argv = [sys.executable, "-m", "app", *cmd[1:]] if cmd[0] == "cjsim" else [sys.executable, *cmd[1:]]
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{shlex.join(cmd)}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        outputs[" ".join(cmd[:3])] = done.stdout + done.stderr
    assert (tmp_path / "invoices.csv").read_bytes() == (ROOT / "examples" / "online_retail" / "invoices.csv").read_bytes()
    assert "4,000 source lines" in outputs["cjsim db import"] and "0 rejected" in outputs["cjsim db import"]
    assert "last import:" in outputs["cjsim db info"] and "0 rejected" in outputs["cjsim db info"]
    with (tmp_path / "rejects.csv").open(encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == ["file", "line", "table", "reason", "value", "record"]
    assert "Giftco Online Retail" in outputs["cjsim data daily_briefing"]
    assert "CJ" in outputs["cjsim run --provider"] and "ended:" in outputs["cjsim run --provider"]
