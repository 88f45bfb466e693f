"""The ``cjsim`` command line. Domain errors become one ``error:`` line and exit code 2."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from app.cli.common import err_console
from app.errors import CJSimError

__all__ = ["app", "main"]


class _ErrorTranslatingGroup(TyperGroup):
    """Turns :class:`CJSimError` raised by any subcommand into a message and exit code 2."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CJSimError as exc:
            # The message holds user data (file:100: would otherwise become an emoji): no markup, no emoji codes.
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True, emoji=False)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_ErrorTranslatingGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="CJ Simulator: synthetic merchant worlds, simulated conversations with CJ, and their evaluation.",
)

from app.cli import (  # noqa: E402  (registers commands)
    core_cmds,
    data_cmds,
    db_cmds,
    eval_cmds,
    experiment_cmds,
    health_cmds,
    ops_cmds,
    orchestrate_cmds,
    playbook_cmds,
    privacy_cmds,
    report_cmds,
    run_cmds,
    world_cmds,
)
from app.cli.mcp_cmds import mcp_app  # noqa: E402

app.add_typer(world_cmds.world_app, name="world")
app.add_typer(db_cmds.db_app, name="db")
app.add_typer(ops_cmds.ops_app, name="ops")
app.add_typer(health_cmds.health_app, name="health")
app.add_typer(health_cmds.alerts_app, name="alerts")
app.add_typer(mcp_app, name="mcp")
app.add_typer(experiment_cmds.simulate_app, name="simulate")
del core_cmds, data_cmds, eval_cmds, experiment_cmds, orchestrate_cmds, playbook_cmds, privacy_cmds, report_cmds, run_cmds


def main() -> None:
    """Console-script entry point."""
    app()
