"""Running conversations: one entry point used by the CLI, the conversation manager and batches.

Example:
    >>> t = run_conversation(RunConfig(scenario="growth_stall", merchant="marcus_thompson",
    ...                                workflow="daily_briefing", seed=1))
    >>> t.termination_reason
    'merchant_done'
"""

from __future__ import annotations

import datetime as dt
import platform
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

import app
from app.agents.database_merchant import data_scenario, database_persona, is_persona_world
from app.agents.merchant_agent import merchant_approval
from app.catalog import Catalog
from app.errors import InvalidArgumentError
from app.graph import RunContext, build_graph
from app.model_specs import check_timeout, is_network_spec, make_cj_model, make_merchant_model
from app.models import Scenario
from app.outcomes import MAX_OUTCOME_DAYS, check_outcome_days, measure_conversation
from app.providers.data_agent import DataAgent
from app.tools import ACTION_TOOLS
from app.transcript import GoalSource, Transcript, message_records, usage_totals
from app.views import DataProvider
from app.views.registry import requires_approval
from app.workflows import AUTO
from app.world.context import resolve_context

if TYPE_CHECKING:
    from app.retry import RetryPolicy, RetryStats

__all__ = ["RunConfig", "run_conversation", "HumanConversation", "CONVERSATION_START"]

CONVERSATION_START = dt.time(9, 0)
"""Simulated time of day at which conversations start on the provider's date."""

RECURSION_LIMIT = 1000  # the graph is bounded by max_turns and max_tool_rounds, not by step count


def _graph_config(thread_id: str) -> dict[str, Any]:
    # max_concurrency 1: the tool calls of one step run one after another in the order the model
    # gave them, so actions' side effects and audit ids are the same in every run
    return {"recursion_limit": RECURSION_LIMIT, "max_concurrency": 1, "configurable": {"thread_id": thread_id}}


@dataclass
class RunConfig:
    """Inputs of one conversation (everything the transcript body is a function of).

    ``catalog`` is the data folder the names refer to and the offline models speak from
    (default: ``Catalog.default()``).

    Two settings only say how network models are called and never change an offline run:
    ``model_timeout`` (seconds per request when the model spec sets none; default
    :data:`app.model_specs.DEFAULT_TIMEOUT_S`) and ``max_attempts`` (tries per model call on
    transient errors such as rate limits, timeouts and server errors).
    """

    scenario: str = "growth_stall"
    merchant: str = "marcus_thompson"
    workflow: str = "daily_briefing"
    seed: int = 0
    max_turns: int = 8
    cj_model: str = "rules"
    merchant_model: str = "script"
    merchant_context: dict[str, Any] = field(default_factory=dict)
    model_timeout: float | None = None
    max_attempts: int = 5
    catalog: Catalog | None = field(default=None, repr=False, compare=False)
    outcome_days: int | None = None
    """After the conversation, measure the interventions CJ launched over this many days of the
    generated world's future (:mod:`app.outcomes`); ``None``: nothing is measured."""
    token_prices: tuple[float, float] | None = None
    """USD per million input and output tokens of the run's models, when known: a simulation run CJ
    starts then records the conversation's cost so far beside its tokens (docs/experiments.md)."""

    def resolved_catalog(self) -> Catalog:
        """The catalog of this run."""
        return self.catalog or Catalog.default()

    def validate(self) -> None:
        """Fail fast on bad names and ranges, before any model call."""
        catalog = self.resolved_catalog()
        catalog.scenarios.get(self.scenario)
        catalog.personas.get(self.merchant)
        if self.workflow != AUTO:
            catalog.workflows.get(self.workflow)
        if self.seed < 0:
            raise InvalidArgumentError(f"seed must be a non-negative integer, got {self.seed}")
        if not 1 <= self.max_turns <= 100:
            raise InvalidArgumentError(f"turns must be between 1 and 100, got {self.max_turns}")
        if not 1 <= self.max_attempts <= 100:
            raise InvalidArgumentError(f"max attempts must be between 1 and 100, got {self.max_attempts}")
        if self.model_timeout is not None:
            check_timeout(self.model_timeout, "the model timeout")
        if self.outcome_days is not None and not 1 <= self.outcome_days <= MAX_OUTCOME_DAYS:
            raise InvalidArgumentError(f"outcome days must be between 1 and {MAX_OUTCOME_DAYS}, got {self.outcome_days}")
        if self.token_prices is not None and (len(self.token_prices) != 2 or min(self.token_prices) < 0):
            raise InvalidArgumentError(f"token prices are two non-negative numbers (USD per million input and output "
                                       f"tokens), got {self.token_prices}")  # fmt: skip


@cache
def _graph() -> Any:
    return build_graph()


def _with_retries(
    models: tuple[Any, Any], specs: tuple[str | None, str | None], cfg: RunConfig,
    retry: RetryPolicy | None, stats: RetryStats | None,
) -> tuple[tuple[Any, Any], RetryStats | None]:  # fmt: skip
    """CJ and the merchant, retried on transient errors when built from network ``specs`` (a spec is
    ``None`` for a model passed as an object), or all of them when the caller gives a policy.

    Returns the models and the statistics they share (``None`` when no model is retried).
    """
    retried = [m is not None and (retry is not None or is_network_spec(spec)) for m, spec in zip(models, specs, strict=True)]
    if not any(retried):
        return models, stats
    from app.retry import RetryingModel, RetryPolicy, RetryStats

    stats = stats if stats is not None else RetryStats()
    policy = retry or RetryPolicy(max_attempts=cfg.max_attempts)
    cj, merchant = (RetryingModel(m, policy, stats) if r else m for m, r in zip(models, retried, strict=True))
    return (cj, merchant), stats


def _context(
    cfg: RunConfig,
    provider: DataProvider | None,
    cj_model: BaseChatModel | None,
    merchant_model: BaseChatModel | None,
    human: bool,
    retry: RetryPolicy | None = None,
    stats: RetryStats | None = None,
) -> tuple[RunContext, RetryStats | None]:
    """The run context, and the retry statistics its models share (``None`` when none is retried)."""
    cfg.validate()
    catalog = cfg.resolved_catalog()
    scenario, persona = catalog.scenarios.get(cfg.scenario), catalog.personas.get(cfg.merchant)
    context = resolve_context(persona, scenario, cfg.merchant_context)
    if provider is None:
        provider = DataAgent.create(scenario, persona, seed=cfg.seed, merchant_context=context, catalog=catalog)
    identity_of = getattr(provider, "merchant_identity", None)  # a duck-typed provider may have none
    identity = identity_of() if identity_of else None
    if identity and not is_persona_world(identity, persona):
        # a real database: its merchant speaks (the persona lends a manner), about its own data
        persona = database_persona(identity, persona)
        scenario = data_scenario(provider, scenario, persona)
    scenario = _with_workflow_goals(scenario, cfg.workflow, catalog)
    cj = cj_model or make_cj_model(cfg.cj_model, cfg.seed, catalog, timeout=cfg.model_timeout)
    merchant = None
    if not human:
        merchant = merchant_model or make_merchant_model(
            cfg.merchant_model, persona, scenario, cfg.seed, catalog, timeout=cfg.model_timeout, provider=provider
        )
    specs = (None if cj_model else cfg.cj_model, None if human or merchant_model else cfg.merchant_model)
    (cj, merchant), stats = _with_retries((cj, merchant), specs, cfg, retry, stats)
    ctx = RunContext(
        catalog=catalog,
        provider=provider,
        scenario=scenario,
        persona=persona,
        merchant_context=context,
        cj_model=cj,
        merchant_model=merchant,
        seed=cfg.seed,
        max_turns=cfg.max_turns,
        token_prices=cfg.token_prices,
    )
    return ctx, stats


def _may_ask_approval(workflow: str, ctx: RunContext) -> bool:
    """Whether a conversation starting in ``workflow`` can reach an action that needs approval."""
    catalog = ctx.catalog.workflows
    todo = list(catalog.names()) if workflow == AUTO else [workflow]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        wf = catalog.get(name)
        if any(t in ACTION_TOOLS and requires_approval(t) for t in wf.tools_available):
            return True
        todo.extend(tr.to for tr in wf.transitions)
    return False


def _initial_state(cfg: RunConfig) -> dict[str, Any]:
    path = [] if cfg.workflow == AUTO else [{"workflow": cfg.workflow, "at_message": 0, "trigger": None}]
    return {"messages": [], "workflow": cfg.workflow, "workflow_path": path, "stages_reached": [], "merchant_turns": 0}


def _version(distribution: str) -> str:
    # langgraph has no __version__; the installed distribution's metadata always has one
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def _meta(cfg: RunConfig, ctx: RunContext, cj_label: str, merchant_label: str) -> dict[str, Any]:
    return {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": {
            "cjsim": app.__version__,
            "langgraph": _version("langgraph"),
            "langchain_core": _version("langchain-core"),
            "python": platform.python_version(),
        },
        "cj_model": cj_label,
        "merchant_model": merchant_label,
        # database URLs are stored with the password masked
        "provider": {"name": ctx.provider.name, "url": getattr(ctx.provider, "display_url", None)},
    }


def _with_workflow_goals(scenario: Scenario, workflow: str, catalog: Catalog) -> Scenario:
    """``scenario`` pursuing the goals of the workflow the conversation starts in and opening with its
    opening line, when it declares them."""
    if workflow not in catalog.workflows:
        return scenario
    wf = catalog.workflows.get(workflow)
    update: dict[str, Any] = {"merchant_goals": list(wf.merchant_goals)} if wf.merchant_goals else {}
    if wf.opening_line:
        update["opening_line"] = wf.opening_line
    return scenario.model_copy(update=update) if update else scenario


def _goal_source(ctx: RunContext, workflow: str) -> GoalSource | None:
    """The goals the merchant pursued, when they are not the scenario file's: a workflow's own, or
    a database's own merchant's."""
    if ctx.scenario == ctx.catalog.scenarios.get(ctx.scenario.id):
        return None  # the scenario's own goals: evaluation finds them by the transcript's scenario id
    goals = list(ctx.scenario.merchant_goals)
    own = workflow in ctx.catalog.workflows and goals == ctx.catalog.workflows.get(workflow).merchant_goals
    return GoalSource(source="workflow" if own else "database", as_of=ctx.scenario.as_of.isoformat(), goals=goals)


def _transcript(cfg: RunConfig, ctx: RunContext, state: dict[str, Any], cj_label: str, merchant_label: str) -> Transcript:
    start = dt.datetime.combine(ctx.provider.default_as_of(), CONVERSATION_START)
    messages = state.get("messages", [])
    return Transcript(
        meta=_meta(cfg, ctx, cj_label, merchant_label),
        scenario=ctx.scenario.id,
        merchant=ctx.persona.id,
        workflow=cfg.workflow,
        seed=cfg.seed,
        merchant_context=ctx.merchant_context.model_dump(mode="json"),
        messages=message_records(messages, start),
        workflow_path=state.get("workflow_path", []),
        stages_reached=state.get("stages_reached", []),
        termination_reason=state.get("termination_reason") or "max_turns",
        error=state.get("error"),
        usage=usage_totals(messages),
        goals=_goal_source(ctx, cfg.workflow),
    )


def run_conversation(
    cfg: RunConfig,
    *,
    provider: DataProvider | None = None,
    cj_model: BaseChatModel | None = None,
    merchant_model: BaseChatModel | None = None,
    checkpointer: Any = None,
    thread_id: str = "conversation",
    retry: RetryPolicy | None = None,
    retry_stats: RetryStats | None = None,
) -> Transcript:
    """Run one conversation to its end and return the transcript.

    Network models named by specs are always called with a request timeout and retried on
    transient errors (``cfg.max_attempts`` tries); a call that still fails ends the run as
    ``agent_error``, its error saying after how many attempts.

    Args:
        cfg: scenario, merchant, workflow, seed, turns and model specs.
        provider: data provider (default: a DataAgent for the scenario and merchant).
        cj_model / merchant_model: chat models overriding the specs (e.g. scripted fakes in tests).
        checkpointer: a LangGraph checkpointer to make the run resumable (e.g. SqliteSaver).
        thread_id: checkpoint thread of the run.
        retry: the retry policy of every model of the run, including models passed as objects
            (default: network models from specs only, with ``cfg.max_attempts``).
        retry_stats: receives what retrying did (shared by both models).
    """
    ctx, stats = _context(cfg, provider, cj_model, merchant_model, human=False, retry=retry, stats=retry_stats)
    world = getattr(ctx.provider, "world", None) if cfg.outcome_days is not None else None
    if cfg.outcome_days is not None:  # refused before the conversation, not after it
        check_outcome_days(cfg.outcome_days, world, ctx.provider.default_as_of())
        if ctx.provider.ops is None:
            raise InvalidArgumentError("outcome days need an operations store to keep the outcomes in")
    # An approval pause needs a checkpointer to resume from; runs that cannot reach one skip it.
    if checkpointer is None and _may_ask_approval(cfg.workflow, ctx):
        checkpointer = InMemorySaver()
    graph = build_graph(checkpointer) if checkpointer is not None else _graph()
    config = _graph_config(thread_id)
    state = graph.invoke(_initial_state(cfg), config, context=ctx)
    while "__interrupt__" in state:  # the merchant answers each approval request
        request = state["__interrupt__"][0].value
        assert ctx.merchant_model is not None
        decision = merchant_approval(ctx.merchant_model, ctx.persona, ctx.scenario, request, ctx.catalog)
        state = graph.invoke(Command(resume=decision), config, context=ctx)
    transcript = _transcript(
        cfg, ctx, state, cfg.cj_model if cj_model is None else type(cj_model).__name__,
        cfg.merchant_model if merchant_model is None else type(merchant_model).__name__,
    )
    if stats is not None and stats.gave_up is not None and transcript.error:
        transcript.error += f" (gave up after {stats.gave_up_after} attempts)"
    if cfg.outcome_days is not None and world is not None and ctx.provider.ops is not None:
        transcript.meta["outcome"] = measure_conversation(world, ctx.provider.ops, transcript, cfg.outcome_days)
    return transcript


class HumanConversation:
    """A conversation where a human plays the merchant; the graph pauses for each line.

    Example:
        >>> chat = HumanConversation(RunConfig(workflow="ad_hoc_support"))
        >>> chat.start()      # CJ's opening (empty when the merchant speaks first)
        ''
        >>> reply = chat.send("How is churn looking?")
    """

    def __init__(
        self,
        cfg: RunConfig,
        provider: DataProvider | None = None,
        checkpointer: Any = None,
        cj_model: BaseChatModel | None = None,
    ) -> None:
        self.cfg = cfg
        self.ctx, _ = _context(cfg, provider, cj_model, None, human=True)
        self.graph = build_graph(checkpointer or InMemorySaver())
        self.config = _graph_config(f"human-{cfg.seed}")
        self.state: dict[str, Any] = {}

    @property
    def finished(self) -> bool:
        return bool(self.state.get("termination_reason")) and "__interrupt__" not in self.state

    def _pause(self) -> dict[str, Any] | None:
        interrupts = self.state.get("__interrupt__")
        return interrupts[0].value if interrupts else None

    @property
    def pending_approval(self) -> dict[str, Any] | None:
        """CJ's request to run an action (action, description, args), waiting for :meth:`decide`."""
        pause = self._pause()
        return pause if pause and pause.get("type") == "approval" else None

    def _cj_reply(self) -> str:
        pause = self._pause()
        return str(pause.get("cj", "")) if pause else ""

    def start(self) -> str:
        """Run until the merchant's first turn; returns what CJ said so far."""
        self.state = self.graph.invoke(_initial_state(self.cfg), self.config, context=self.ctx)
        return self._cj_reply()

    def send(self, line: str) -> str:
        """Resume with the human's line; returns CJ's reply (empty once the conversation ended).

        A quit line (``/quit``, ``/exit``, ``/done`` or an empty line) ends the conversation with
        termination reason ``human_quit``.
        """
        return self._resume(line)

    def quit(self) -> None:
        """End the conversation because the human left (end of input, Ctrl-C): ``human_quit``."""
        self._resume("/quit")

    def _resume(self, line: str) -> str:
        if self.finished:
            raise InvalidArgumentError("the conversation has ended; start a new one")
        if self.pending_approval:
            raise InvalidArgumentError("CJ is waiting for an approval; approve or decline it first")
        self.state = self.graph.invoke(Command(resume=line), self.config, context=self.ctx)
        return self._cj_reply()

    def decide(self, approve: bool) -> str:
        """Answer CJ's pending approval request; returns CJ's reply once it has acted (or not)."""
        if not self.pending_approval:
            raise InvalidArgumentError("there is no approval request to answer")
        decision = "approved" if approve else "declined"
        self.state = self.graph.invoke(Command(resume=decision), self.config, context=self.ctx)
        return self._cj_reply()

    def transcript(self) -> Transcript:
        values = self.graph.get_state(self.config).values
        return _transcript(self.cfg, self.ctx, values, self.cfg.cj_model, "human")
