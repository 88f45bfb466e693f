"""Fingerprint of the full scenario x merchant x workflow matrix: proof that a refactor changed no behaviour.

Runs ``cjsim batch`` over every scenario, merchant and workflow (seed 0) with the clean rule CJ
and with each defect profile, then hashes each conversation's deterministic parts: the transcript
body (everything but ``meta``) and its evaluation records. Wall-clock fields (``duration_s``,
``meta``) are left out. ``--write`` stores the fingerprint; ``--check`` compares with the stored
one and names every case that differs.

    python benchmarks/matrix_fingerprint.py --check            # after a change: exit 1 on any difference
    python benchmarks/matrix_fingerprint.py --write            # accept the current behaviour

It drives the public CLI, not internal modules, so it keeps working across refactors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

STORED = Path(__file__).with_name("matrix_fingerprint.json")
PROFILES = ("rules", "rules:hallucinate_numbers", "rules:skip_tools", "rules:off_workflow")


def _canonical(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def fingerprint(profile: str, jobs: int) -> dict[str, str]:
    """``case id -> sha256`` of body and scores for one CJ profile over the whole matrix."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [
            sys.executable, "-m", "app", "batch", "--scenarios", "all", "--merchants", "all",
            "--workflows", "all", "--seeds", "0", "--jobs", str(jobs), "--cj-model", profile, "--out", str(out),
        ]  # fmt: skip
        # run in the scratch folder: playbook runs write their audience exports under the working directory
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=tmp)
        digests: dict[str, str] = {}
        for line in (out / "transcripts.jsonl").read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            case = record["case"]
            key = f"{case['scenario']}/{case['merchant']}/{case['workflow']}/{case['seed']}"
            transcript = record.get("transcript") or {}
            transcript.pop("meta", None)
            body = {"status": record["status"], "error": record.get("error"), "transcript": transcript}
            body["scores"] = record.get("scores", [])
            digests[key] = hashlib.sha256(_canonical(body).encode()).hexdigest()
        return dict(sorted(digests.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="store the current fingerprint")
    mode.add_argument("--check", action="store_true", help="compare with the stored fingerprint")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    current = {profile: fingerprint(profile, args.jobs) for profile in PROFILES}
    if args.write:
        STORED.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {sum(len(v) for v in current.values())} case fingerprints to {STORED}")
        return 0
    stored = json.loads(STORED.read_text(encoding="utf-8"))
    differing = [
        f"{profile} {case}"
        for profile in sorted(set(stored) | set(current))
        for case in sorted(set(stored.get(profile, {})) | set(current.get(profile, {})))
        if stored.get(profile, {}).get(case) != current.get(profile, {}).get(case)
    ]
    total = sum(len(v) for v in current.values())
    if differing:
        print(f"{len(differing)} of {total} cases differ:")
        print("\n".join(f"  {d}" for d in differing[:50]))
        return 1
    print(f"all {total} cases identical")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
