"""``cjsim batch`` and ``cjsim eval``: run many conversations, and re-score saved ones."""

from __future__ import annotations

import shlex
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from app.cli import app
from app.cli.common import (
    AllowWritableOpt,
    CJModelOpt,
    DbUrlOpt,
    ExecutorOpt,
    MaxAttemptsOpt,
    MerchantModelOpt,
    ModelTimeoutOpt,
    ProviderOpt,
    RayAddressOpt,
    YesOpt,
    accept_writable_user,
    console,
    err_console,
    load_catalog,
    require_db_url,
)
from app.cli.options import parse_seeds
from app.errors import InvalidArgumentError

_LIST = "'all' or a comma-separated list"

_NOT_REPORTED = "not reported"


def _money(value: float | None) -> str:
    return _NOT_REPORTED if value is None else f"${value:,.4f}"


def render_summary(out: Console, summary, prices, path: Path, *, headline: str) -> None:
    """The end-of-run summary: cases, endings, pass rate per evaluator, usage and cost, next step."""
    from app.batch.usage import PARTICIPANTS

    out.print(f"[bold]{headline}[/]")
    missing = f", {summary.missing} not run" if summary.missing else ""
    interrupted = f", {summary.interrupted} interrupted" if summary.interrupted else ""
    out.print(
        f"cases: {summary.ok} ok, {summary.failed} failed{interrupted}{missing} (of {summary.cases or summary.done})"
    )
    if summary.termination:
        endings = ", ".join(f"{k} {v}" for k, v in sorted(summary.termination.items(), key=lambda kv: (-kv[1], kv[0])))
        out.print(f"ended: {endings}")
    if summary.evaluators:
        table = Table(show_edge=False, box=None, pad_edge=False)
        table.add_column("evaluator", justify="left")
        for col in ("pass rate", "passed", "skipped"):
            table.add_column(col, justify="right")
        for key, tally in summary.evaluators.items():
            rate = "-" if tally.pass_rate is None else f"{tally.pass_rate:.1%}"
            table.add_row(key, rate, f"{tally.passed}/{tally.scored}", str(tally.skipped))
        out.print(table)
    usage = summary.usage
    judge = summary.evaluators.get("judge")
    for who in PARTICIPANTS:
        if who == "judge" and not usage.reported(who) and not (judge and judge.scored):
            continue  # no judge ran
        if not usage.reported(who):
            out.print(f"tokens {who}: {_NOT_REPORTED}")
            continue
        u = usage.by_participant[who]
        out.print(
            f"tokens {who}: {u.input_tokens:,} in, {u.output_tokens:,} out ({u.conversations} conversations); "
            f"cost {_money(usage.cost(who, prices))}"
        )
    if not usage.by_participant:
        out.print(f"cost: {_NOT_REPORTED} (no model reported token usage)")
    else:
        hint = "" if prices.known else " (pass --input-price and --output-price to price the tokens)"
        out.print(f"total cost: {_money(usage.total_cost(prices))}{hint}")
    for case_id, error in summary.failures[:5]:
        out.print(f"[red]failed[/] {case_id}: {error}", highlight=False)
    if len(summary.failures) > 5:
        out.print(f"... and {len(summary.failures) - 5} more failed cases")
    out.print(f"saved: {path / 'transcripts.jsonl'}")
    out.print(f"next: cjsim report {shlex.quote(str(path))}")


def _prices(input_price: float | None, output_price: float | None):
    """Token prices from the price options (each non-negative)."""
    from app.batch.usage import Prices

    for flag, value in (("--input-price", input_price), ("--output-price", output_price)):
        if value is not None and value < 0:
            raise InvalidArgumentError(f"{flag} must not be negative, got {value}")
    return Prices(input_price, output_price)


def _check_judge(judge_model: str | None) -> None:
    """Refuse a spec that cannot judge (an offline CJ or merchant, an unreadable replay file) before anything runs."""
    from app.batch.runner import is_network_spec, make_judge_model
    from app.model_specs import parse_spec

    if judge_model is None:
        return
    if parse_spec(judge_model).kind == "replay":
        make_judge_model(judge_model)  # reads the replies file: a missing or malformed one is named now
    elif not is_network_spec(judge_model):
        raise InvalidArgumentError(
            f"--judge-model needs a provider model such as openai:gpt-4o-mini, or replay:FILE of recorded "
            f"replies, got {judge_model!r}"
        )


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether an option was given (command line or environment) rather than left at its default."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


@app.command("batch")
def batch_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Batch folder, e.g. runs/nightly (batch.json + transcripts.jsonl).")],
    scenarios: Annotated[str, typer.Option("--scenarios", help=f"Scenario ids: {_LIST}.")] = "all",
    merchants: Annotated[str, typer.Option("--merchants", help=f"Merchant ids: {_LIST}.")] = "all",
    workflows: Annotated[str, typer.Option("--workflows", help=f"Workflows: {_LIST}.")] = "all",
    seeds: Annotated[str, typer.Option("--seeds", help="Seeds: 0-9, 3 or 0,2,5-7.")] = "0",
    yes: YesOpt = False,
    cj_model: CJModelOpt = "rules",
    merchant_model: MerchantModelOpt = "script",
    turns: Annotated[int, typer.Option("--turns", help="Maximum merchant turns per conversation.")] = 8,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Parallel workers (default: CPU count).")] = None,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    evaluators: Annotated[str, typer.Option("--evaluators", help=f"Evaluator keys: {_LIST}.")] = "all",
    judge_model: Annotated[str | None, typer.Option("--judge-model", help="Model spec for judge evaluators.")] = None,
    provider: ProviderOpt = "data_agent",
    db_url: DbUrlOpt = None,
    allow_writable_user: AllowWritableOpt = False,
    resume: Annotated[bool, typer.Option("--resume", help="Finish a batch: run only cases without an ok record.")] = False,
    max_attempts: MaxAttemptsOpt = 5,
    outcome_days: Annotated[int | None, typer.Option("--outcome-days", help="Measure each conversation's "
                            "interventions over this many days of its generated world's future (outcome evaluator).")] = None,
    model_timeout: ModelTimeoutOpt = None,
    input_price: Annotated[float | None, typer.Option("--input-price", help="USD per million input tokens.")] = None,
    output_price: Annotated[float | None, typer.Option("--output-price", help="USD per million output tokens.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Run every scenario x merchant x workflow x seed case, score it, and save it as it finishes.

    With --resume, options you leave out take the batch's saved values; options you give must
    match them.
    """
    from app.batch.progress import progress_for
    from app.batch.records import RunDir, latest_by_case
    from app.batch.run import batch_manifest, default_jobs, execution_mode, run_batch
    from app.execution import make_executor
    from app.retry import RetryPolicy

    prices = _prices(input_price, output_price)
    if not resume and RunDir(out).exists():
        raise InvalidArgumentError(
            f"{out} already holds a batch; pass --resume to finish it, or choose another --out (nothing was overwritten)"
        )
    args: dict[str, Any] = {
        "scenarios": scenarios,
        "merchants": merchants,
        "workflows": workflows,
        "seeds": parse_seeds(seeds, confirmed=yes),
        "cj_model": cj_model,
        "merchant_model": merchant_model,
        "max_turns": turns,
        "evaluators": None if evaluators.strip() == "all" else evaluators,
        "judge_model": judge_model,
        "outcome_days": outcome_days,
    }
    saved = RunDir(out).read_manifest() if resume else None
    if saved is not None:
        for option, field in (("scenarios", "scenarios"), ("merchants", "merchants"), ("workflows", "workflows"),
                              ("seeds", "seeds"), ("cj_model", "cj_model"), ("merchant_model", "merchant_model"),
                              ("turns", "max_turns"), ("evaluators", "evaluators"), ("judge_model", "judge_model"),
                              ("outcome_days", "outcome_days")):  # fmt: skip
            if not _given(ctx, option):
                args[field] = getattr(saved, field)
        if not _given(ctx, "provider"):
            provider = str(saved.provider.get("name", provider))
    require_db_url(provider, db_url)
    _check_judge(args["judge_model"])
    catalog = load_catalog()  # every data file checked before the first case
    manifest = batch_manifest(out.name, provider=provider, db_url=db_url, catalog=catalog, **args)
    jobs = default_jobs() if jobs is None else jobs
    execution_mode(manifest, jobs, executor=executor)  # network models on Ray: refused before Ray starts
    local = executor == "local" and ray_address is None
    try:
        with accept_writable_user(), nullcontext() if local else make_executor(executor, workers=jobs, address=ray_address) as ex:
            result = run_batch(
                manifest,
                out,
                jobs=jobs,
                executor=ex,
                resume=resume,
                db_url=db_url,
                progress=progress_for(err_console, quiet),
                retry=RetryPolicy(max_attempts=max_attempts),
                allow_writable_user=allow_writable_user,
                model_timeout=model_timeout,
                catalog=catalog,
            )
    except KeyboardInterrupt:
        latest = latest_by_case(RunDir(out).records())
        cut = sum(r.status == "interrupted" for r in latest)
        err_console.print(
            f"interrupted: {len(latest) - cut} finished cases are saved in {out}"
            + (f"; {cut} cut off while running are marked interrupted" if cut else "")
            + "; finish with the same command and --resume"
        )
        raise typer.Exit(130) from None
    ran = f"ran {result.ran} case{'s' if result.ran != 1 else ''} ({result.mode}, jobs {jobs})"
    render_summary(console, result.summary, prices, result.path, headline=f"batch {result.manifest.name}: {ran}")
    if result.manifest.outcome_days is not None:
        _print_outcomes(RunDir(out))


def _print_outcomes(run_dir: Any) -> None:
    """The measured outcomes of a batch, with the interval over seeds (app.reporting.outcome)."""
    from app.batch.records import latest_by_case
    from app.reporting.outcome import outcome_interval

    transcripts = [r.transcript for r in latest_by_case(run_dir.records()) if r.transcript is not None]
    o = outcome_interval(transcripts)
    if not o.seeds:
        console.print(f"outcomes: none measured ({o.skipped} conversations launched nothing that ran)")
        return

    def span(m: Any, fmt: str) -> str:
        return f"{m.mean:{fmt}} [{m.low:{fmt}}, {m.high:{fmt}}]" if m.mean is not None else "n/a"

    console.print(f"outcomes over {o.seeds} seed(s), {o.measured} interventions measured: {o.customers_kept} customers "
                  f"kept, revenue saved {o.revenue_saved_cents / 100:,.2f} for a cost of {o.cost_cents / 100:,.2f}; per "
                  f"seed, kept share {span(o.kept_share, '.2f')} and revenue per cost {span(o.revenue_per_cost, '.2f')} "
                  f"({o.confidence:.0%} bootstrap interval over seeds)")  # fmt: skip


@app.command("eval")
def eval_cmd(
    path: Annotated[Path, typer.Argument(help="Batch folder written by cjsim batch.")],
    evaluators: Annotated[
        str | None, typer.Option("--evaluators", help=f"Evaluator keys: {_LIST} (default: the batch's).")
    ] = None,
    judge_model: Annotated[str | None, typer.Option("--judge-model", help="Model spec for judge evaluators.")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Transcripts scored at once.")] = 1,
    max_attempts: MaxAttemptsOpt = 5,
    model_timeout: ModelTimeoutOpt = None,
    input_price: Annotated[float | None, typer.Option("--input-price", help="USD per million input tokens.")] = None,
    output_price: Annotated[float | None, typer.Option("--output-price", help="USD per million output tokens.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Re-score a batch's saved conversations and rewrite its records atomically (failed ones are kept)."""
    from app.batch.progress import progress_for
    from app.batch.rescore import rescore
    from app.retry import RetryPolicy

    prices = _prices(input_price, output_price)
    _check_judge(judge_model)
    if not path.is_dir():
        raise InvalidArgumentError(f"{path} is not a folder; pass a batch folder written by cjsim batch --out")
    result = rescore(
        path,
        keys=evaluators,
        judge_model=judge_model,
        jobs=jobs,
        progress=progress_for(err_console, quiet),
        retry=RetryPolicy(max_attempts=max_attempts),
        model_timeout=model_timeout,
        catalog=load_catalog(),
    )
    headline = (
        f"eval {result.path.name}: re-scored {result.rescored} conversations "
        f"({', '.join(result.evaluators)}); kept {result.kept} failed"
    )
    render_summary(console, result.summary, prices, result.path, headline=headline)


@app.command("repair")
def repair_cmd(
    path: Annotated[Path, typer.Argument(help="Batch folder written by cjsim batch.", show_default=False)],
) -> None:
    """Move damaged lines of a batch's transcripts.jsonl aside (nothing is deleted), so --resume reruns their cases."""
    from app.batch.records import RunDir

    if not path.is_dir():
        raise InvalidArgumentError(f"{path} is not a folder; pass a batch folder written by cjsim batch --out")
    run = RunDir(path).require()
    result = run.repair()
    if not result.moved:
        console.print(f"{run.transcripts_path}: every line is a run record; nothing to repair")
        return
    lines = ", ".join(map(str, result.moved[:10])) + (" ..." if len(result.moved) > 10 else "")
    console.print(
        f"moved {len(result.moved)} damaged line{'s' if len(result.moved) != 1 else ''} ({lines}) to "
        f"{result.damaged_path}; kept {result.kept} records",
        highlight=False,
    )
    manifest = run.read_manifest()
    database = " --db-url URL" if manifest is not None and manifest.provider.get("name") == "production" else ""
    console.print(f"next: cjsim batch --out {shlex.quote(str(path))} --resume{database}  (reruns the cases without a record)")
