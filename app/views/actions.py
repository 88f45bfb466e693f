"""Running an action: approval, idempotency and the audit row, the same for every caller.

Tools in a conversation, ``cjsim act``, and library callers all go through :func:`execute_action`:

1. the arguments are validated by the action's argument model;
2. an action that needs approval runs only with ``approval="approved"``; a declined one writes
   its audit row with status ``declined`` and does nothing else;
3. a call whose (action, day, idempotency key) already succeeded returns the first result and
   writes a ``duplicate`` audit row: a retried action never runs twice;
4. otherwise the action's effect and its ``succeeded`` audit row commit in one transaction; if
   the action raises, the effect rolls back and a ``failed`` audit row is written on its own.

Example:
    >>> from app.storage.ops import OpsStore
    >>> store = OpsStore.in_memory()
    >>> import datetime as dt
    >>> out = execute_action(store, "save_note", {"note": "Call Sarah about the late box"},
    ...                      day=dt.date(2025, 3, 1), approval="approved", actor="doc")
    >>> out.status, store.audit()[0].status
    ('succeeded', 'succeeded')
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from app.errors import ActionDeclinedError, ActionFailedError, CJSimError, DataUnavailableError
from app.storage.ops import OpsStore
from app.views.registry import ActionSpec, action_spec

if TYPE_CHECKING:
    from app.views.provider import DataProvider

__all__ = ["ActionContext", "ActionOutcome", "Approval", "LlmUsage", "execute_action"]

Approval = Literal["approved", "declined", "not_required"]
T = TypeVar("T")


@dataclass(frozen=True)
class LlmUsage:
    """What the language models of the conversation an action runs in have spent so far."""

    tokens: int
    """Input and output tokens of every model that reported usage (CJ and the merchant)."""
    cost_cents: int | None = None
    """Their cost in US cents, when the run knows the models' prices (None: unknown)."""


@dataclass(frozen=True)
class ActionContext:
    """What an action's ``run`` function gets: a connection in the store's transaction and the call."""

    conn: Connection
    day: dt.date
    now: dt.datetime
    actor: str
    provider: DataProvider | None = None
    """The data provider the call was made on, or None for a call on a bare operations store."""
    llm_usage: LlmUsage | None = None
    """Tokens and cost of the conversation so far, when models that report usage took part."""

    def read_source(self, query: Callable[[Connection], T]) -> T:
        """Run a read-only query function on the provider's source data (inside this transaction when
        the store shares the source's database). Without a provider: an error saying so."""
        if self.provider is None:
            raise DataUnavailableError("this action reads the source data; call it on a data provider")
        return self.provider.read_source(query, within=self.conn)


@dataclass(frozen=True)
class ActionOutcome:
    """How a call ended, with the result (the first execution's, for a duplicate) and its audit row."""

    status: Literal["succeeded", "duplicate"]
    result: Any
    audit_id: int


def execute_action(
    store: OpsStore,
    name: str,
    raw_args: Mapping[str, Any],
    *,
    day: dt.date,
    approval: Approval | None = None,
    actor: str = "library",
    conversation: str | None = None,
    now: dt.datetime | None = None,
    provider: DataProvider | None = None,
    llm_usage: LlmUsage | None = None,
) -> ActionOutcome:
    """Run action ``name`` once, audited.

    Args:
        store: the operations store it writes to.
        raw_args: the action's arguments, validated by its argument model.
        day: the business date it is taken for (part of the idempotency key).
        approval: ``approved`` or ``declined`` for an action that needs approval (``None`` counts
            as not given); ignored otherwise.
        actor: who asked (recorded in the audit row).
        conversation: the conversation it belongs to, if any.
        now: the caller's clock (the simulation clock in a generated world; wall clock otherwise).
        provider: the data provider the action reads its source data from, if it needs any.
        llm_usage: what the conversation's language models spent so far (None: none reported).

    Raises:
        InvalidArgumentError: bad arguments (nothing is written: the call never reached the action).
        ActionDeclinedError: approval was declined or not given (audited as ``declined``).
        ActionFailedError: the action raised; its effect rolled back and the failure is audited.
    """
    spec: ActionSpec[Any, Any] = action_spec(name)
    args = spec.parse_args(raw_args)
    key = spec.idempotency_key(args)
    at = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    record: dict[str, Any] = {
        "action": name,
        "day": day,
        "idempotency_key": key,
        "arguments": args.model_dump(mode="json"),
        "actor": actor,
        "conversation": conversation,
        "requested_at": at,
    }
    gate: Approval = "not_required"
    if spec.requires_approval:
        gate = "approved" if approval == "approved" else "declined"
        if gate == "declined":
            with store.transaction() as conn:
                store.write_audit(conn, **record, status="declined", approval=gate, duration_ms=0)
            why = "was declined" if approval == "declined" else "needs approval and none was given"
            raise ActionDeclinedError(f"action {name!r} {why}; nothing was done")
    started = time.perf_counter()
    try:
        with store.transaction() as conn:
            done = store.find_done(conn, name, day, key)
            if done is not None:
                audit_id = store.write_audit(
                    conn, **record, status="duplicate", approval=gate, result=done.result,
                    duration_ms=0, original_audit_id=done.audit_id,
                )  # fmt: skip
                return ActionOutcome("duplicate", done.result, audit_id)
            ctx = ActionContext(conn=conn, day=day, now=at, actor=actor, provider=provider, llm_usage=llm_usage)
            result = spec.run(ctx, args)
            payload = result.model_dump(mode="json") if hasattr(result, "model_dump") else result
            audit_id = store.write_audit(
                conn, **record, status="succeeded", approval=gate, result=payload,
                duration_ms=_ms(started),
            )  # fmt: skip
            return ActionOutcome("succeeded", payload, audit_id)
    except IntegrityError:
        # A concurrent call with the same key committed first: report its result, run nothing.
        with store.transaction() as conn:
            done = store.find_done(conn, name, day, key)
            if done is None:
                raise
            audit_id = store.write_audit(
                conn, **record, status="duplicate", approval=gate, result=done.result,
                duration_ms=_ms(started), original_audit_id=done.audit_id,
            )  # fmt: skip
        return ActionOutcome("duplicate", done.result, audit_id)
    except Exception as exc:
        message = str(exc) if isinstance(exc, CJSimError) else f"{type(exc).__name__}: {exc}"
        with store.transaction() as conn:
            store.write_audit(conn, **record, status="failed", approval=gate, error=message, duration_ms=_ms(started))
        raise ActionFailedError(f"action {name!r} failed: {message}") from exc


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
