"""``cjsim run``, ``demo``, ``chat`` and ``graph``: simulated conversations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from app.cli import app
from app.cli.common import (
    AllowWritableOpt,
    CJModelOpt,
    DbUrlOpt,
    MaxAttemptsOpt,
    MerchantModelOpt,
    MerchantOpt,
    ModelTimeoutOpt,
    ProviderOpt,
    ScenarioOpt,
    SeedOpt,
    StageOpt,
    StressOpt,
    build_provider,
    console,
    err_console,
    load_catalog,
)
from app.cli.render import render_transcript
from app.errors import InvalidArgumentError
from app.transcript import TRANSCRIPT_FORMATS, Transcript

WorkflowOpt = Annotated[
    str, typer.Option("--workflow", "-w", help="Workflow (cjsim list workflows) or 'auto' to pick from the opening.")
]
TurnsOpt = Annotated[int, typer.Option("--turns", help="Maximum merchant turns.")]
DEFAULT_MERCHANT = "marcus_thompson"


def _config(scenario, merchant, workflow, seed, turns, cj_model, merchant_model, stage, stress, **calls):
    from app.simulation import RunConfig

    catalog = load_catalog()  # every data file checked before anything runs
    context = {k: v.value for k, v in (("business_stage", stage), ("stress_level", stress)) if v is not None}
    cfg = RunConfig(
        scenario=scenario,
        merchant=merchant,
        workflow=workflow,
        seed=seed,
        max_turns=turns,
        cj_model=cj_model,
        merchant_model=merchant_model,
        merchant_context=context,
        catalog=catalog,
        **calls,
    )
    cfg.validate()
    return cfg


def _check_format(fmt: str) -> None:
    if fmt not in TRANSCRIPT_FORMATS:
        raise InvalidArgumentError(f"unknown format {fmt!r}; valid formats: {', '.join(TRANSCRIPT_FORMATS)}")


def _emit(t: Transcript, fmt: str, out: Path | None) -> None:
    _check_format(fmt)
    if fmt == "json":
        text = t.to_json()
    elif fmt == "openai-jsonl":
        text = json.dumps(t.to_openai(), ensure_ascii=False) + "\n"
    elif fmt == "markdown":
        text = t.to_markdown()
    else:
        text = t.to_text() + "\n"
    if out is None:
        if fmt == "text":
            render_transcript(console, t)
        else:
            typer.echo(text, nl=False)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidArgumentError(f"cannot write {out}: {exc.strerror}") from None
    err_console.print(f"wrote {out} ({fmt}); ended: {t.termination_reason}")


@app.command("run")
def run_cmd(
    scenario: ScenarioOpt = "growth_stall",
    merchant: Annotated[
        str | None,
        typer.Option(
            "--merchant",
            "-m",
            help="Merchant id or name (default marcus_thompson). With --provider production the database's own "
            "merchant speaks: leave it out or give its id; a persona id lends its manner only.",
        ),
    ] = None,
    workflow: WorkflowOpt = "daily_briefing",
    seed: SeedOpt = 0,
    turns: TurnsOpt = 8,
    cj_model: CJModelOpt = "rules",
    merchant_model: MerchantModelOpt = "script",
    stage: StageOpt = None,
    stress: StressOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the transcript to this file.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, markdown, json or openai-jsonl.")] = "text",
    provider: ProviderOpt = "data_agent",
    db_url: DbUrlOpt = None,
    allow_writable_user: AllowWritableOpt = False,
    model_timeout: ModelTimeoutOpt = None,
    max_attempts: MaxAttemptsOpt = 5,
    outcome_days: Annotated[
        int | None,
        typer.Option("--outcome-days", help="After the conversation, reveal this many days of the generated world's "
                     "future and measure the interventions CJ launched against the world without them (the summary "
                     "goes to the transcript's meta.outcome)."),
    ] = None,
) -> None:
    """Simulate one conversation between CJ and a merchant, on a generated world or a real database.

    Exits with code 1 when the conversation ended in agent_error (a model failed).
    """
    from app.graph import TerminationReason
    from app.simulation import run_conversation

    _check_format(fmt)  # fail before the conversation runs
    data = None
    if provider == "production":  # the database names its merchant; a persona only lends its manner
        from app.agents.database_merchant import check_merchant

        catalog = load_catalog()
        data = build_provider(provider, db_url, scenario, DEFAULT_MERCHANT, seed, stage, stress,
                              allow_writable_user=allow_writable_user, catalog=catalog)  # fmt: skip
        identity = data.merchant_identity()
        if identity:
            ids = catalog.personas.names()
            personas = {**{catalog.personas.get(p).display_name: p for p in ids}, **{p: p for p in ids}}
            merchant = check_merchant(merchant, identity, personas)
    cfg = _config(scenario, merchant or DEFAULT_MERCHANT, workflow, seed, turns, cj_model, merchant_model, stage,
                  stress, model_timeout=model_timeout, max_attempts=max_attempts, outcome_days=outcome_days)  # fmt: skip
    if data is None:
        data = build_provider(
            provider, db_url, cfg.scenario, cfg.merchant, seed, stage, stress,
            allow_writable_user=allow_writable_user, catalog=cfg.catalog,
        )  # fmt: skip
    transcript = run_conversation(cfg, provider=data)
    _emit(transcript, fmt, out)
    if transcript.termination_reason == TerminationReason.agent_error:
        err_console.print(f"[bold red]agent error:[/] {escape(transcript.error or 'no reason recorded')}", highlight=False)
        raise typer.Exit(1)


@app.command("demo")
def demo_cmd(seed: SeedOpt = 7) -> None:
    """A good default conversation, offline: Marcus Thompson's daily briefing during a growth stall."""
    from app.simulation import RunConfig, run_conversation

    cfg = RunConfig(
        scenario="growth_stall",
        merchant="marcus_thompson",
        workflow="daily_briefing",
        seed=seed,
        catalog=load_catalog(),
    )
    t = run_conversation(cfg)
    render_transcript(console, t)


@app.command("chat")
def chat_cmd(
    scenario: ScenarioOpt = "growth_stall",
    merchant: MerchantOpt = "marcus_thompson",
    workflow: WorkflowOpt = "ad_hoc_support",
    seed: SeedOpt = 0,
    turns: TurnsOpt = 20,
    cj_model: Annotated[str, typer.Option("--cj-model")] = "rules",
    out: Annotated[Path | None, typer.Option("--out", help="Save the transcript (JSON) here.")] = None,
    model_timeout: ModelTimeoutOpt = None,
) -> None:
    """Play the merchant yourself. Type /quit (or an empty line, or end the input) to finish."""
    from app.simulation import HumanConversation

    cfg = _config(scenario, merchant, workflow, seed, turns, cj_model, "script", None, None, model_timeout=model_timeout)
    chat = HumanConversation(cfg)
    console.print(f"[dim]You are the merchant of {chat.ctx.persona.business_name}. /quit ends.[/]")
    try:
        opening = chat.start()
        if opening:
            console.print(f"[green]CJ:[/] {opening}")
        while not chat.finished:
            request = chat.pending_approval
            if request:
                args = ", ".join(f"{k}={v!r}" for k, v in request["args"].items())
                console.print(f"[yellow]CJ asks to act:[/] {escape(request['description'])} ({escape(args)})")
                try:
                    approve = typer.confirm("approve?", default=False)
                except (EOFError, typer.Abort):
                    approve = False
                reply = chat.decide(approve)
            else:
                try:
                    line = typer.prompt("you", default="", show_default=False)
                except (EOFError, typer.Abort):  # end of input or Ctrl-C at the prompt: the human left
                    console.print()
                    chat.quit()
                    break
                reply = chat.send(line)
            if reply:
                console.print(f"[green]CJ:[/] {reply}")
    except KeyboardInterrupt:  # Ctrl-C while CJ was answering
        err_console.print("interrupted; the conversation was not saved")
        raise typer.Exit(130) from None
    t = chat.transcript()
    console.print(f"[dim]ended: {t.termination_reason}[/]")
    if out:
        _emit(t, "json", out)


@app.command("graph")
def graph_cmd() -> None:
    """Print the compiled conversation graph as Mermaid."""
    from app.graph import build_graph

    typer.echo(build_graph().get_graph().draw_mermaid())
