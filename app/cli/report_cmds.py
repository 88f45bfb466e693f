"""``cjsim report`` and ``cjsim compare``: summarise a batch, and gate on regressions between two."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli import app
from app.cli.common import err_console
from app.errors import InvalidArgumentError

RunArg = Annotated[Path, typer.Argument(help="A batch folder (holds batch.json and transcripts.jsonl).", show_default=False)]


def _load(path: Path):
    from app.batch.records import RunDir

    run = RunDir(path)
    if not path.is_dir():
        raise InvalidArgumentError(f"{path} is not a folder; pass a batch folder made by: cjsim batch --out {path}")
    try:
        run.require()
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{exc}: cjsim batch --out {path}") from None
    return run.read_manifest(), run.records()


@app.command("report")
def report_cmd(
    run: RunArg,
    html: Annotated[Path | None, typer.Option("--html", help="Also write a self-contained HTML report with a transcript viewer.")] = None,
    worst: Annotated[int, typer.Option("--worst", help="How many of the lowest-scoring cases to list.")] = 10,
) -> None:
    """Summarise a batch: Markdown to stdout (evaluators with 95% intervals, breakdowns, pass^k,
    flip rates, failures, worst cases); --html writes the same plus charts and every transcript."""
    from app.reporting.report import render_markdown
    from app.reporting.summarize import summarize

    if worst < 0:
        raise InvalidArgumentError(f"--worst must be zero or more, got {worst}")
    manifest, records = _load(run)
    summary = summarize(records, worst=worst)
    title = manifest.name if manifest and manifest.name else run.name
    typer.echo(render_markdown(summary, manifest, title=title), nl=False)
    if html is not None:
        from app.reporting.html_report import render_html

        page = render_html(summary, manifest, title=title)
        try:
            html.parent.mkdir(parents=True, exist_ok=True)
            html.write_text(page, encoding="utf-8")
        except OSError as exc:
            raise InvalidArgumentError(f"cannot write {html}: {exc.strerror}") from None
        # soft_wrap: a long path stays on one line, so it can be copied
        err_console.print(
            f"wrote {html} ({len(page.encode()) / 1e6:.1f} MB, {len(summary.records)} conversations)",
            highlight=False,
            soft_wrap=True,
        )


@app.command("compare")
def compare_cmd(
    run_a: Annotated[Path, typer.Argument(help="Baseline batch folder (A).", show_default=False)],
    run_b: Annotated[Path, typer.Argument(help="Candidate batch folder (B).", show_default=False)],
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", help="Only these metrics (repeatable): an evaluator key, KEY.pass_rate, KEY.mean, or completed."),
    ] = None,
    alpha: Annotated[
        float, typer.Option("--alpha", help="Family-wise alpha of the gate (Holm over the gated metrics); 1 − confidence of each interval.")
    ] = 0.05,
    min_effect: Annotated[float, typer.Option("--min-effect", help="Ignore changes smaller than this (0..1 scale).")] = 0.0,
) -> None:
    """Compare batch B against baseline A: each metric's delta B−A with its interval and a test suited
    to it (exact McNemar or a permutation test; paired by case, or by case group when seeds differ).
    Exit code 1 when any gated metric is significantly worse -- Holm-adjusted p-value at most
    --alpha, change below −min-effect -- 0 otherwise, 2 on bad input."""
    from app.reporting.compare import compare_runs
    from app.reporting.report import render_comparison

    _, a = _load(run_a)
    _, b = _load(run_b)
    result = compare_runs(a, b, metrics=metric or (), alpha=alpha, min_effect=min_effect)
    a_label, b_label = run_a.name or str(run_a), run_b.name or str(run_b)
    if a_label == b_label:
        a_label, b_label = str(run_a), str(run_b)
    typer.echo(render_comparison(result, a_label=a_label, b_label=b_label), nl=False)
    if result.regressions:
        raise typer.Exit(1)


@app.command("export")
def export_cmd(
    run: RunArg,
    fmt: Annotated[str, typer.Option("--format", help="Export format: openai-jsonl (one conversation per line).")] = "openai-jsonl",
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Export a batch's conversations for other evaluation tools: OpenAI chat messages (system prompt,
    tool calls and results) with the tools in OpenAI format, one JSON line per conversation."""
    from app.cli.common import load_catalog
    from app.reporting.export import EXPORT_FORMATS, export_run

    if fmt not in EXPORT_FORMATS:
        raise InvalidArgumentError(f"unknown export format {fmt!r}; valid formats: {', '.join(EXPORT_FORMATS)}")
    _, records = _load(run)
    text, result = export_run(records, out, fmt, catalog=load_catalog())
    if out is None:
        typer.echo(text, nl=False)
    left = f"; left out {result.left_out} failed" if result.left_out else ""
    where = f" to {out}" if out is not None else ""
    err_console.print(f"exported {result.written} conversations ({fmt}){where}{left}", highlight=False, soft_wrap=True)
