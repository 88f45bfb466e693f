"""Shared CLI pieces: consoles, world and provider options, the data catalog, building a data provider."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from app.cli.options import CONFIRM_SEEDS_ABOVE
from app.models import BusinessStage, StressLevel

if TYPE_CHECKING:
    from app.catalog import Catalog

__all__ = [
    "ExecutorOpt",
    "RayAddressOpt",
    "console",
    "err_console",
    "ScenarioOpt",
    "MerchantOpt",
    "SeedOpt",
    "StageOpt",
    "StressOpt",
    "ProviderOpt",
    "DbUrlOpt",
    "AllowWritableOpt",
    "YesOpt",
    "accept_writable_user",
    "OpsUrlOpt",
    "CJModelOpt",
    "MerchantModelOpt",
    "ModelTimeoutOpt",
    "MaxAttemptsOpt",
    "PROVIDERS",
    "load_catalog",
    "require_db_url",
    "build_agent",
    "build_provider",
    "describe_provider",
]

console = Console()
err_console = Console(stderr=True)

ScenarioOpt = Annotated[str, typer.Option("--scenario", "-s", help="Scenario id (cjsim list scenarios).")]
MerchantOpt = Annotated[
    str, typer.Option("--merchant", "-m", help="Merchant id or name, e.g. marcus_thompson or 'Marcus Thompson'.")
]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, help="Random seed of the world.")]
StageOpt = Annotated[
    BusinessStage | None, typer.Option("--stage", help="Business stage (default: the merchant's).")
]
StressOpt = Annotated[
    StressLevel | None, typer.Option("--stress", help="Stress level (default: the scenario's).")
]


PROVIDERS = ("data_agent", "production")
"""Data providers a command can run on: a generated world, or a real database."""

ProviderOpt = Annotated[
    str,
    typer.Option(
        "--provider",
        envvar="CJSIM_PROVIDER",
        help="data_agent (a generated world) or production (the database at --db-url).",
    ),
]
DbUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--db-url",
        envvar="CJSIM_DB_URL",
        show_envvar=True,
        help="Database of --provider production: sqlite:///file.db or postgresql+psycopg://user:pw@host/db.",
    ),
]
AllowWritableOpt = Annotated[
    bool,
    typer.Option(
        "--allow-writable-user",
        help="Accept a PostgreSQL --db-url user that could write (by default only a read-only user is accepted).",
    ),
]
YesOpt = Annotated[
    bool, typer.Option("--yes", "-y", help=f"Run even when --seeds names more than {CONFIRM_SEEDS_ABOVE:,} seeds.")
]
ExecutorOpt = Annotated[
    str,
    typer.Option(
        "--executor",
        help="Where the work runs: local (processes on this machine) or ray (a Ray cluster, or a Ray instance "
        "started here; pip install 'cjsim[ray]').",
    ),
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="The Ray cluster to join with --executor ray (host:port, ray://host:port or auto); default: start "
        "a Ray instance on this machine for the run.",
    ),
]
OpsUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--ops-url",
        envvar="CJSIM_OPS_URL",
        show_envvar=True,
        help="Operations store where actions write (a SQLite file or PostgreSQL URL; never the source database). "
        "Default: the generated world's embedded database, and none for --provider production.",
    ),
]


CJModelOpt = Annotated[
    str,
    typer.Option(
        "--cj-model",
        help="rules, rules:<defect> (calibration: hallucinate_numbers, wrong_metric, stale_window, wrong_customer, "
        "skip_tools, ignored_tool_error, overpromise, off_workflow, leak_reasoning, ignore_question), "
        "openai:<model>, anthropic:<model>, ollama:<model>.",
    ),
]
MerchantModelOpt = Annotated[str, typer.Option("--merchant-model", help="script or a provider spec.")]
ModelTimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--model-timeout",
        help="Seconds a network model request may take before it is retried (default 60; "
        "a spec's ?timeout=S wins).",
    ),
]
MaxAttemptsOpt = Annotated[
    int, typer.Option("--max-attempts", help="Tries per network model call on transient errors (rate limits, timeouts).")
]


def load_catalog() -> Catalog:
    """The data folder of this command, read and validated once (``$CJSIM_DATA_DIR``, else ``data/``)."""
    from app.catalog import Catalog

    return Catalog.load()


def require_db_url(provider: str, db_url: str | None) -> None:
    """Refuse ``--provider production`` without a database, naming the options that give one."""
    from app.errors import ProviderError

    if provider == "production" and not db_url:
        raise ProviderError("--provider production needs a database: pass --db-url URL or set CJSIM_DB_URL")


def build_provider(
    provider: str,
    db_url: str | None,
    scenario: str,
    merchant: str,
    seed: int,
    stage: BusinessStage | None = None,
    stress: StressLevel | None = None,
    ops_url: str | None = None,
    allow_writable_user: bool = False,
    *,
    catalog: Catalog | None = None,
):
    """The data provider the options describe (names and refresh intervals from ``catalog``,
    default: ``Catalog.default()``).

    ``data_agent`` generates the world of (scenario, merchant, seed, stage, stress);
    ``production`` opens the database at ``db_url`` read-only (the world options are ignored),
    refusing a PostgreSQL user that could write unless ``allow_writable_user``.
    ``ops_url`` names the operations store actions write to (see :class:`~app.storage.ops.OpsStore`).

    Raises:
        UnknownNameError: unknown provider name.
        ProviderError: production without a URL, or a database that cannot be used.
    """
    from app.catalog import Catalog
    from app.errors import UnknownNameError

    if provider == "data_agent":
        agent = build_agent(scenario, merchant, seed, stage, stress, catalog=catalog)
        if ops_url:
            from app.storage.ops import OpsStore

            agent.ops = OpsStore.from_url(ops_url)
        return agent
    if provider == "production":
        require_db_url(provider, db_url)
        from app.providers.cache import workflow_ttls
        from app.providers.production import ProductionDataProvider

        # cached views live as long as the workflows' declared refresh intervals allow
        ttl = workflow_ttls((catalog or Catalog.default()).workflows.refresh_seconds)
        with accept_writable_user():
            return ProductionDataProvider(str(db_url), ttl=ttl, ops_url=ops_url, allow_writable_user=allow_writable_user)
    raise UnknownNameError("provider", provider, PROVIDERS)


@contextmanager
def accept_writable_user() -> Iterator[None]:
    """Re-raise a :class:`WritableUserError` naming the command-line option that accepts the user."""
    from app.errors import WritableUserError

    try:
        yield
    except WritableUserError as exc:
        raise exc.with_accept("--allow-writable-user") from None


def describe_provider(provider) -> str:
    """One line naming the data behind a provider (database URLs with the password masked)."""
    display_url = getattr(provider, "display_url", None)
    if display_url is not None:
        return f"{provider.merchant_name()} - {display_url}"
    world = provider.world
    return f"{provider.persona.business_name} - {provider.scenario.id} (seed {world.spec.seed})"


def build_agent(
    scenario: str,
    merchant: str,
    seed: int,
    stage: BusinessStage | None,
    stress: StressLevel | None,
    *,
    catalog: Catalog | None = None,
):
    """A DataAgent for the world the options describe (names from ``catalog``, default: ``Catalog.default()``)."""
    from app.providers.data_agent import DataAgent

    context = {"business_stage": stage, "stress_level": stress}
    return DataAgent.create(scenario, merchant, seed=seed, merchant_context=context, catalog=catalog)
