"""No traceback for a user's mistake: every command, given unwritable paths, non-UTF-8 files and
malformed URL options, answers with one ``error:`` line and exit code 2.

Tests run as root, which ignores file permissions, so a path is made unwritable by putting it
below a regular file (``a-file/sub``) or by a folder standing where a file must be written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from app.batch.records import LOCK_FILE
from app.cli import app
from app.cli.options import CONFIRM_SEEDS_ABOVE, MAX_SEEDS, parse_seeds
from app.errors import InvalidArgumentError
from app.storage.ops import OpsStore
from tests.test_report import batch_records, write_run

runner = CliRunner()

BAD_PG = "postgresql+psycopg://cj:hunter2@127.0.0.1:1/shop"
URL_PROBLEMS = {
    f"{BAD_PG}?connect_timeout=abc": "bad connect_timeout='abc'",
    f"{BAD_PG}?connect_timeout=2&connect_timeout=3": "gives connect_timeout more than once",
    f"{BAD_PG}?bogus_option=1": "invalid connection option",
    "postgresql+psycopg://cj:hunter2@127.0.0.1:port/shop": "the port must be a number",
    "postgresql+psycopg://cj:hunter2@back@127.0.0.1:1/shop": "holds a raw '@'",
}


def _commands() -> set[str]:
    def walk(command, prefix: tuple[str, ...] = ()):
        subcommands = getattr(command, "commands", None)
        if not subcommands:
            yield " ".join(prefix)
            return
        for name, sub in subcommands.items():
            yield from walk(sub, (*prefix, name))

    return set(walk(typer.main.get_command(app)))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inputs")
    blocker = root / "a-file"
    blocker.write_text("a regular file: nothing can be created below it\n")
    latin = root / "latin1.csv"
    latin.write_bytes("order_id,customer_id,date,total\nA1,C1,2025-03-01,Cr\xe8me br\xfbl\xe9e\n".encode("latin-1"))
    mapping = root / "latin1.yaml"
    mapping.write_bytes("version: 1\n# caf\xe9\n".encode("latin-1"))
    good = write_run(root / "good", batch_records())
    bad = write_run(root / "bad", batch_records())
    (bad / "transcripts.jsonl").write_bytes(b"\xff\xfe\x00 not utf-8\n" + (bad / "transcripts.jsonl").read_bytes())
    bad_manifest = write_run(root / "bad_manifest", batch_records())
    (bad_manifest / "batch.json").write_bytes(b"\xff" + (bad_manifest / "batch.json").read_bytes())
    locked_out = write_run(root / "locked_out", batch_records())
    (locked_out / LOCK_FILE).mkdir()  # a folder where the lock file must be written
    database = root / "shop.db"
    assert runner.invoke(app, ["db", "init", "--url", f"sqlite:///{database}"]).exit_code == 0
    header = "customer_id,group,retained,converted,revenue_cents\n"
    bad_outcomes = root / "bad_outcomes.csv"
    bad_outcomes.write_text(header + "c1,treated,1,1,500\nc2,control,1,1,500\nc3,holdout,1,0,4.99\n")
    treated_only = root / "treated_only.csv"
    treated_only.write_text(header + "c1,treated,1,1,500\nc2,treated,0,0,0\n")
    outcomes = root / "outcomes.csv"
    outcomes.write_text(header + "c1,treated,1,1,500\nc2,holdout,0,0,0\n")
    OpsStore.from_url(f"sqlite:///{root / 'experiments_ops.db'}")  # an empty store: no run kept yet
    return {"blocker": blocker, "latin": latin, "mapping": mapping, "good": good, "bad": bad,
            "bad_manifest": bad_manifest, "locked_out": locked_out, "database": database,
            "bad_outcomes": bad_outcomes, "treated_only": treated_only, "outcomes": outcomes}  # fmt: skip


def _cases(f: dict[str, Path]) -> dict[str, list[tuple[list[str], str]]]:
    """Per command: (arguments, a phrase the error must hold)."""
    under = f["blocker"] / "sub"
    db = f"sqlite:///{f['database']}"
    orders = ["--orders", str(f["latin"]), "--mapping", str(f["mapping"])]
    url_cases = list(URL_PROBLEMS.items())
    core_ops = f"sqlite:///{f['database'].parent / 'core_ops.db'}"
    privacy_ops = f"sqlite:///{f['database'].parent / 'privacy_ops.db'}"
    exp_ops = f"sqlite:///{f['database'].parent / 'experiments_ops.db'}"
    backtest = ["simulate", "backtest", "--run-id", "1", "--outcomes"]
    return {
        "list": [(["list", "planets"], "Invalid value")],  # takes no path, file or URL
        "demo": [(["demo", "--seed", "-1"], "Invalid value")],  # takes no path, file or URL
        "graph": [(["graph", "extra"], "unexpected extra argument")],  # takes no path, file or URL
        "world summary": [(["world", "summary", "--merchant", "nobody"], "unknown merchant")],  # no path either
        "data": [(["data", "daily_briefing", "--provider", "production", "--db-url", u], m) for u, m in url_cases]
        + [(["data", "daily_briefing", "--provider", "production", "--db-url", f"sqlite:///{under}/x.db"], "no SQLite database file")],
        "run": [(["run", "--provider", "production", "--db-url", u], m) for u, m in url_cases[:2]]
        + [(["run", "--out", str(under / "t.json"), "--turns", "1"], "cannot write")],
        "chat": [(["chat", "--out", str(under / "t.json")], "cannot write")],
        "schema": [(["schema", "--out", str(under / "schemas.json")], "cannot write")],
        "act": [(["act", "save_note", "--note", "hi", "--approve", "--ops-url", f"sqlite:///{under}/ops.db"], "does not exist")]
        + [(["act", "save_note", "--note", "hi", "--approve", "--ops-url", u], m) for u, m in url_cases[:2]]
        + [(["act", "save_note", "--note", "hi", "--provider", "production", "--db-url", u], m) for u, m in url_cases]
        + [(["act", "simulate_intervention", "--action", "pause_offer", "--offer-percent", "20"],
            "offer_percent applies to a discount offer (loyalty_discount); pause_offer takes none"),
           (["act", "simulate_intervention", "--segment", "whales"], "segment: Input should be 'at_risk'"),
           (["act", "launch_simulated_intervention", "--run-id", "7", "--approve"], "no simulation run #7")],
        "batch": [(["batch", "--out", str(under), "--seeds", "0"], "cannot write"),
                  (["batch", "--out", str(f["bad_manifest"]), "--resume"], "not a batch manifest"),
                  (["batch", "--out", str(under / "p"), "--provider", "production", "--db-url", url_cases[0][0]], url_cases[0][1]),
                  (["batch", "--out", str(f["blocker"].parent / "r1"), "--seeds", "0", "--executor", "dask"], "unknown executor 'dask'; valid executors: local, ray"),
                  (["batch", "--out", str(f["blocker"].parent / "r2"), "--seeds", "0", "--ray-address", "127.0.0.1:1"], "needs the Ray executor: add --executor ray"),
                  (["batch", "--out", str(f["blocker"].parent / "r3"), "--seeds", "0", "--executor", "ray", "--ray-address", "127.0.0.1:1"],
                   "cannot reach the Ray cluster at 127.0.0.1:1"),
                  (["batch", "--out", str(f["blocker"].parent / "r4"), "--seeds", "0", "--executor", "ray", "--cj-model", "openai:gpt-4o-mini"],
                   "network models run on threads in this process: drop --executor ray")],
        "eval": [(["eval", str(f["locked_out"])], "cannot write"), (["eval", str(f["bad"])], "line 1: not a run record"),
                 (["eval", str(under)], "is not a folder"),
                 (["eval", str(f["good"]), "--evaluators", "nope"], "unknown evaluator 'nope'; valid evaluators: consistency"),
                 (["eval", str(f["good"]), "--judge-model", "rules"], "or replay:FILE of recorded replies"),
                 (["eval", str(f["good"]), "--judge-model", "replay"], "needs a file of replies"),
                 (["eval", str(f["good"]), "--judge-model", f"replay:{under}.yaml"], "no such file"),
                 (["eval", str(f["good"]), "--judge-model", f"replay:{f['mapping']}"], "not valid UTF-8")],
        "repair": [(["repair", str(f["locked_out"])], "cannot write"), (["repair", str(under)], "is not a folder")],
        "report": [(["report", str(f["good"]), "--html", str(under / "r.html")], "cannot write"),
                   (["report", str(f["bad"])], "line 1: not a run record"),
                   (["report", str(f["bad_manifest"])], "not a batch manifest")],
        "compare": [(["compare", str(f["good"]), str(f["bad"])], "line 1: not a run record")],
        "export": [(["export", str(f["good"]), "--format", "csv"], "unknown export format 'csv'; valid formats: openai-jsonl"),
                   (["export", str(under)], "is not a folder"),
                   (["export", str(f["bad"])], "line 1: not a run record"),
                   (["export", str(f["good"]), "--out", str(under / "x.jsonl")], "cannot write")],
        "world export": [(["world", "export", "--out", str(under)], "cannot create output folder")],
        "world check": [(["world", "check", "--seeds", f"0-{CONFIRM_SEEDS_ABOVE}"], "Pass --yes")],
        "db init": [(["db", "init", "--url", f"sqlite:///{f['blocker']}/x.db"], "is not a folder"),
                    (["db", "init", "--url", f"{db}?timeout=abc"], "bad option in database URL")]
        + [(["db", "init", "--url", u], m) for u, m in url_cases],
        "db load": [(["db", "load", "--url", f"sqlite:///{under}/x.db"], "no SQLite database file"),
                    (["db", "load", "--url", url_cases[0][0]], url_cases[0][1])],
        "db import": [(["db", "import", "--url", db, *orders], "not valid UTF-8"),
                      (["db", "import", "--url", db, "--orders", str(f["latin"]), "--mapping", str(under / "m.yaml")], "cannot read"),
                      # the target is checked before any file is read
                      (["db", "import", "--url", url_cases[1][0], *orders], url_cases[1][1])],
        "db refresh": [(["db", "refresh", "--url", f"sqlite:///{under}/x.db"], "no SQLite database file"),
                       (["db", "refresh", "--url", url_cases[0][0]], url_cases[0][1])],
        "db info": [(["db", "info", "--url", f"sqlite:///{under}/x.db"], "no SQLite database file")]
        + [(["db", "info", "--url", u], m) for u, m in url_cases],
        "ops alert": [(["ops", "alert", "--date", "2025-13-01"], "--date must be a date like"),
                      (["ops", "alert", "--db-url", url_cases[0][0]], url_cases[0][1])],
        "ops context": [(["ops", "context", "--date", "1999-01-01"], "before the data's first day")],
        "ops queue": [(["ops", "queue", "--ops-url", f"sqlite:///{under}/ops.db"], "does not exist"),
                      (["ops", "queue", "--date", "2031-01-01"], "after the data's current day")],
        "ops brief": [(["ops", "brief", "--format", "pdf"], "format: Input should be 'slack', 'email' or 'markdown'")],
        "ops export": [(["ops", "export", "--tier", "P4"], "tier: Input should be 'P1', 'P2' or 'P3'"),
                       (["ops", "export", "--tier", "P1", "--destination", "gsheet"], "the only destination is 'csv'"),
                       (["ops", "export", "--tier", "P1", "--limit", "0"], "limit: Input should be greater than or equal to 1")],
        "ops trigger": [(["ops", "trigger", "--live"], "live playbook delivery needs a webhook URL"),
                        (["ops", "trigger", "--webhook-url", "hook.example.com"], "is not an http(s) URL"),
                        (["ops", "trigger", "--ops-url", f"sqlite:///{under}/ops.db"], "does not exist")],
        "ops runs": [(["ops", "runs"], "pass --ops-url URL or set CJSIM_OPS_URL"),
                     (["ops", "runs", "--ops-url", f"sqlite:///{under}/ops.db", "--date", "2025-13-01"], "--date must be a date like"),
                     (["ops", "runs", "--ops-url", f"sqlite:///{under}/ops.db"], "does not exist")],
        "health show": [(["health", "show", "NOPE"], "no customer 'NOPE'"),
                        (["health", "show", "--date", "1999-01-01"], "before the data's first day")],
        "health overview": [(["health", "overview", "--date", "2025-13-01"], "--date must be a date like"),
                            (["health", "overview", "--db-url", url_cases[0][0]], url_cases[0][1])],
        "health accuracy": [(["health", "accuracy", "--date", "2031-01-01"], "alerts can be checked 30 days ahead")],
        "alerts list": [(["alerts", "list", "--severity", "bogus"], "severity.0: Input should be 'critical'"),
                        (["alerts", "list", "--status", "closed"], "status: Input should be 'open'")],
        "alerts ack": [(["alerts", "ack", "HA-nope"], "is not of the form HA-<yyyymmdd>-<customer id>-<type>"),
                       (["alerts", "ack", "HA-20310101-C1-churn_risk"], "after the data's current day"),
                       (["alerts", "ack", "HA-20250422-C1-churn_risk", "--ops-url", f"sqlite:///{under}/ops.db"], "does not exist")],
        "alerts feedback": [(["alerts", "feedback", "HA-20250422-C1-churn_risk"], "give at least one of --accuracy"),
                            (["alerts", "feedback", "HA-20250422-C1-churn_risk", "--accuracy", "meh"], "alert_accuracy: Input should be")],
        "alerts summary": [(["alerts", "summary", "--ops-url", f"sqlite:///{under}/ops.db"], "does not exist")],
        "orchestrate": [(["orchestrate", "--days", "0"], "--days must be between 1 and"),
                        (["orchestrate", "--policy", "maybe"], "--policy must be 'policy' or 'ask'"),
                        (["orchestrate", "--scenario", "nowhere", "--days", "2"], "unknown scenario 'nowhere'"),
                        (["orchestrate", "--ops-url", f"sqlite:///{under}/ops.db", "--days", "1"], "does not exist"),
                        (["orchestrate", "--db-url", url_cases[0][0]], url_cases[0][1])],
        "mcp serve": [(["mcp", "serve", "--scenario", "nowhere"], "unknown scenario 'nowhere'"),
                      (["mcp", "serve", "--ops-url", f"sqlite:///{under}/ops.db"], "does not exist"),
                      (["mcp", "serve", "--db-url", url_cases[0][0]], url_cases[0][1]),
                      (["mcp", "serve", "--http"], "--http needs API keys: create one with `cjsim mcp keys create"),
                      (["mcp", "serve", "--http", "--ops-url", core_ops], "holds no active API key; create one with"),
                      (["mcp", "serve", "--http", "--ops-url", f"sqlite:///{under}/ops.db"], "does not exist"),
                      (["mcp", "serve", "--no-auth"], "--no-auth only applies to --http")],
        "mcp keys create": [(["mcp", "keys", "create", "--name", "x"], "pass --ops-url URL or set CJSIM_OPS_URL"),
                            (["mcp", "keys", "create", "--name", "x", "--ops-url", core_ops, "--allow", "weather"],
                             "unknown operation 'weather'; valid operations:"),
                            (["mcp", "keys", "create", "--name", "x", "--ops-url", core_ops, "--rate-limit", "-1"],
                             "--rate-limit must be between 1 and"),
                            (["mcp", "keys", "create", "--name", "x", "--ops-url", core_ops, "--expires-in", "soon"],
                             "--expires-in must be a positive number"),
                            (["mcp", "keys", "create", "--name", "", "--ops-url", core_ops], "--name must not be empty"),
                            (["mcp", "keys", "create", "--name", "x", "--ops-url", f"sqlite:///{under}/ops.db"], "does not exist")]
        + [(["mcp", "keys", "create", "--name", "x", "--ops-url", u], m) for u, m in url_cases[:2]],
        "mcp keys list": [(["mcp", "keys", "list"], "pass --ops-url URL or set CJSIM_OPS_URL"),
                          (["mcp", "keys", "list", "--ops-url", f"sqlite:///{under}/ops.db"], "does not exist")],
        "mcp keys revoke": [(["mcp", "keys", "revoke", "cjk_nope"], "pass --ops-url URL or set CJSIM_OPS_URL"),
                            (["mcp", "keys", "revoke", "cjk_nope", "--ops-url", core_ops], "unknown key 'cjk_nope'; valid keys:")],
        "privacy request": [
            (["privacy", "request", "--type", "erase", "--customer", "C1"], "unknown request type 'erase'; valid request types"),
            (["privacy", "request", "--type", "access", "--customer", "C1", "--regulation", "pdpa"], "unknown regulation 'pdpa'"),
            (["privacy", "request", "--type", "deletion", "--customer", "C1", "--db-url", db, "--ops-url", privacy_ops],
             "cannot be undone; pass --yes"),
            (["privacy", "request", "--type", "correction", "--customer", "C1", "--set", "email"], "use --set field=value"),
            (["privacy", "request", "--type", "correction", "--customer", "C1", "--set", "id=C2"], "'id' cannot be corrected"),
            (["privacy", "request", "--type", "access", "--customer", "C1", "--set", "name=X"], "--set is for corrections"),
            (["privacy", "request", "--type", "portability", "--customer", "C1"], "pass --out FILE.zip"),
            (["privacy", "request", "--type", "deletion", "--customer", "C1", "--yes", "--out", "x.json"], "--out is for access"),
            (["privacy", "request", "--type", "access", "--customer", "C1", "--transcripts", str(under)], "no such folder"),
            (["privacy", "request", "--type", "access", "--customer", "C1", "--ops-url", privacy_ops], "pass --db-url URL"),
            (["privacy", "request", "--type", "access", "--customer", "C1", "--db-url", db], "pass --ops-url URL"),
            (["privacy", "request", "--type", "access", "--customer", "NOPE", "--db-url", db, "--ops-url", privacy_ops],
             "no customer 'NOPE'"),
            (["privacy", "request", "--type", "access", "--customer", "C1", "--db-url", db, "--ops-url", f"sqlite:///{under}/ops.db"],
             "does not exist"),
            (["privacy", "request", "--type", "access", "--customer", "C1", "--db-url", f"sqlite:///{under}/x.db",
              "--ops-url", privacy_ops], "no SQLite database file"),
            (["privacy", "request", "--type", "portability", "--customer", "C1", "--out", str(under / "b.zip")], "pass --db-url"),
        ] + [(["privacy", "request", "--type", "access", "--customer", "C1", "--db-url", u, "--ops-url", privacy_ops], m)
             for u, m in url_cases],
        "privacy list": [(["privacy", "list"], "pass --ops-url URL or set CJSIM_OPS_URL"),
                         (["privacy", "list", "--ops-url", privacy_ops, "--status", "done"], "unknown status 'done'"),
                         (["privacy", "list", "--ops-url", f"sqlite:///{under}/ops.db"], "does not exist")],
        "privacy show": [(["privacy", "show", "99", "--ops-url", privacy_ops], "no privacy request 99"),
                         (["privacy", "show", "1"], "pass --ops-url URL or set CJSIM_OPS_URL"),
                         (["privacy", "show", "one", "--ops-url", privacy_ops], "Invalid value")],
        "db quality": [(["db", "quality", "--url", f"sqlite:///{under}/x.db"], "no SQLite database file"),
                       (["db", "quality", "--url", db], "holds no data"),
                       (["db", "quality", "--url", db, "--date", "soon"], "--date must be a date like")]
        + [(["db", "quality", "--url", u], m) for u, m in url_cases],
        "core industries": [(["core", "industries", "--industry", "insurance"], "unknown industry 'insurance'; known industries")],
        "core import": [(["core", "import", str(f["latin"]), "--template", "telecom"], "pass --ops-url URL or set CJSIM_OPS_URL"),
                        (["core", "import", str(f["latin"]), "--template", "nope", "--ops-url", core_ops], "unknown template 'nope'"),
                        (["core", "import", str(under / "x.csv"), "--template", "telecom", "--ops-url", core_ops], "no such file"),
                        (["core", "import", str(f["latin"]), "--template", "telecom", "--ops-url", core_ops], "not valid utf-8-sig"),
                        (["core", "import", str(f["latin"]), "--template", "telecom", "--ops-url", core_ops, "--as-of", "soon"],
                         "--as-of must be a date like"),
                        (["core", "import", str(f["latin"]), "--template", "telecom", "--ops-url", core_ops,
                          "--rejects", str(under / "r.csv")], "cannot write"),
                        (["core", "import", str(f["latin"]), "--template", "telecom", "--ops-url", f"sqlite:///{under}/ops.db"],
                         "does not exist")]
        + [(["core", "import", str(f["latin"]), "--template", "telecom", "--ops-url", u], m) for u, m in url_cases],
        "core load-world": [(["core", "load-world"], "pass --ops-url URL or set CJSIM_OPS_URL"),
                            (["core", "load-world", "--scenario", "nowhere", "--ops-url", core_ops], "unknown scenario 'nowhere'"),
                            (["core", "load-world", "--ops-url", f"sqlite:///{under}/ops.db"], "does not exist")]
        + [(["core", "load-world", "--ops-url", u], m) for u, m in url_cases[:2]],
        "simulate intervention": [
            (["simulate", "intervention", "--seeds", "0"], "give the action (--action NAME) or an intervention file"),
            (["simulate", "intervention", "--action", "coupon"], "unknown action 'coupon'; valid actions:"),
            (["simulate", "intervention", "--action", "pause_offer", "--segment", "whales"], "unknown segment 'whales'"),
            (["simulate", "intervention", "--action", "pause_offer", "--personas", "nobody"], "unknown persona 'nobody'"),
            (["simulate", "intervention", "--action", "pause_offer", "--scenarios", "nowhere"], "unknown scenario 'nowhere'"),
            (["simulate", "intervention", "--action", "pause_offer", "--holdout", "1.5"], "--holdout: Input should be less than 1"),
            (["simulate", "intervention", "--action", "pause_offer", "--horizon", "2"], "--horizon: Input should be greater than or equal to 7"),
            (["simulate", "intervention", "--action", "pause_offer", "--iterations", "0"], "--iterations must be at least 1"),
            (["simulate", "intervention", "--action", "pause_offer", "--seeds", "x"], "bad seed list 'x'"),
            (["simulate", "intervention", "--action", "pause_offer", "--seeds", f"0-{CONFIRM_SEEDS_ABOVE}"], "Pass --yes"),
            (["simulate", "intervention", "--action", "pause_offer", "--seeds", "0", "--backtest-seeds", "0"], "must not repeat a seed"),
            (["simulate", "intervention", "--action", "pause_offer", "--seeds", "0", "--personas", "sarah_chen", "--backtest-seeds", "1"],
             "a backtest needs at least 2 iterations"),
            (["simulate", "intervention", "--file", str(f["mapping"])], "not valid UTF-8"),
            (["simulate", "intervention", "--file", str(under / "spec.yaml")], "cannot read"),
            (["simulate", "intervention", "--file", str(f["blocker"])], "field 'action': required field is missing; add it;"),
            (["simulate", "intervention", "--action", "pause_offer", "--ops-url", f"sqlite:///{under}/ops.db"], "does not exist"),
            (["simulate", "intervention", "--action", "pause_offer", "--ops-url", url_cases[0][0]], url_cases[0][1]),
            (["simulate", "intervention", "--action", "pause_offer", "--executor", "dask"], "unknown executor 'dask'; valid executors: local, ray"),
            (["simulate", "intervention", "--action", "pause_offer", "--ray-address", "127.0.0.1:1"], "needs the Ray executor: add --executor ray"),
            (["simulate", "intervention", "--action", "pause_offer", "--executor", "ray", "--ray-address", "127.0.0.1:1"],
             "cannot reach the Ray cluster at 127.0.0.1:1 (Connection refused); start it with `ray start --head`"),
            (["simulate", "intervention", "--action", "pause_offer", "--executor", "ray", "--ray-address", "head-node"],
             "Ray address 'head-node' is not host:port, ray://host:port or auto"),
        ],
        "simulate backtest": [
            (["simulate", "backtest", "--run-id", "1", "--outcomes", str(f["outcomes"])], "give the operations store that keeps the run: --ops-url URL"),
            (["simulate", "backtest", "--run-id", "1", "--ops-url", exp_ops], "give the realised outcomes: --outcomes FILE.csv"),
            (["simulate", "backtest", "--outcomes", str(f["outcomes"]), "--ops-url", exp_ops], "give the run to backtest: --run-id N"),
            ([*backtest, str(f["outcomes"]), "--ops-url", f"sqlite:///{f['database'].parent / 'no_ops.db'}"],
             "no operations store at"),
            ([*backtest, str(f["outcomes"]), "--ops-url", url_cases[0][0]], url_cases[0][1]),
            ([*backtest, str(f["outcomes"]), "--ops-url", exp_ops], "unknown simulation run 1; runs in this store: none yet"),
            ([*backtest, str(under / "outcomes.csv"), "--ops-url", exp_ops], "cannot read file"),
            ([*backtest, str(f["latin"]), "--ops-url", exp_ops], "latin1.csv:2: not valid UTF-8 (byte 0xe8); save the file as UTF-8"),
            ([*backtest, str(f["blocker"]), "--ops-url", exp_ops], "missing column(s)"),
            ([*backtest, str(f["bad_outcomes"]), "--ops-url", exp_ops], "2 malformed row(s), fix them and run again: bad_outcomes.csv:3: "
             "group 'control' is not one of treated, holdout; bad_outcomes.csv:4: revenue_cents '4.99' is not a whole number of cents"),
            ([*backtest, str(f["treated_only"]), "--ops-url", exp_ops], "treated_only.csv has no holdout rows"),
        ],
    }  # fmt: skip


def test_every_command_is_covered(files: dict[str, Path]) -> None:
    assert set(_cases(files)) == _commands()


@pytest.mark.parametrize("command", sorted(_commands()))
def test_user_mistakes_end_in_one_line_and_exit_code_2(files: dict[str, Path], command: str) -> None:
    for args, phrase in _cases(files)[command]:
        result = runner.invoke(app, args, input="/quit\n", env={"CJSIM_DB_URL": ""})
        output = " ".join(result.output.split())
        assert result.exit_code == 2, (args, result.output, result.exception)
        assert "Traceback" not in result.output and "hunter2" not in result.output, args
        assert phrase in output, (args, output)


@pytest.mark.parametrize("args", [["simulate", "intervention", "--action", "pause_offer", "--seeds", "0"], ["batch", "--seeds", "0"]],
                         ids=["simulate intervention", "batch"])  # fmt: skip
def test_the_ray_executor_without_ray_names_the_extra(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what an install without the extra sees: import ray fails
    out = ["--out", str(tmp_path / "b")] if args[0] == "batch" else []
    result = runner.invoke(app, [*args, *out, "--executor", "ray"])
    output = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "the Ray executor needs Ray, which is not installed" in output
    assert "install it with: pip install 'cjsim[ray]'" in output
    assert not (tmp_path / "b").exists()


# --------------------------------------------------------------------------- large seed lists


def test_large_seed_ranges_need_yes(tmp_path: Path) -> None:
    assert parse_seeds(f"0-{CONFIRM_SEEDS_ABOVE - 1}") == list(range(CONFIRM_SEEDS_ABOVE))
    assert parse_seeds("0-600,400-999,5") == list(range(1000))  # overlaps count once
    with pytest.raises(InvalidArgumentError, match="names 1,001 seeds, more than 1,000"):
        parse_seeds("0-600,400-1000")
    assert len(parse_seeds("0-100000", confirmed=True)) == 100_001
    with pytest.raises(InvalidArgumentError, match=f"at most {MAX_SEEDS:,}"):
        parse_seeds("0-99999999999999", confirmed=True)  # refused before any list is built
    out = tmp_path / "never-created"
    result = runner.invoke(app, ["batch", "--out", str(out), "--seeds", "0-100000"])
    assert result.exit_code == 2 and "Pass --yes to run them all" in " ".join(result.output.split())
    assert not out.exists()
