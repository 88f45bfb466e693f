"""Rich rendering of transcripts for the terminal."""

from __future__ import annotations

import json

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from app.transcript import Transcript

__all__ = ["render_transcript"]


def render_transcript(console: Console, t: Transcript, show_tool_output: bool = False) -> None:
    """Merchant and CJ turns as panels, tool calls as dim lines, then how the run ended."""
    path = " -> ".join(p["workflow"] for p in t.workflow_path) or t.workflow
    # A database merchant's run is about the database, not the scenario it borrowed a manner from.
    about = f"database as of {t.goals.as_of}" if t.goals is not None else t.scenario
    header = Text.assemble(
        (about, "bold"), " · ", (t.merchant, "bold"),  # Text, not markup: ids come from user data
        f" · workflow {path} · seed {t.seed} · stress {t.merchant_context.get('stress_level')}",
    )
    console.print(header)
    for m in t.messages:
        if m.role == "merchant":
            console.print(Panel(Text(m.content), title="Merchant", title_align="left", border_style="cyan"))
        elif m.role == "cj":
            for c in m.tool_calls or []:
                console.print(Text(f"  ↳ CJ calls {c.name}({json.dumps(c.args)})", style="dim"))
            if m.content:
                console.print(Panel(Text(m.content), title="CJ", title_align="left", border_style="green"))
        else:
            style = "red" if m.status == "error" else "dim"
            first = m.content.splitlines()[0] if m.content else ""
            console.print(Text(f"  ↳ {m.name}: {first}", style=style))
            if show_tool_output:
                console.print(Text(m.content, style="dim"))
    stages = ", ".join(s["stage"] for s in t.stages_reached) or "none"
    ended = t.termination_reason + (f" ({t.error})" if t.error else "")
    console.print(f"[bold]ended:[/] {ended} · stages reached: {stages}")
