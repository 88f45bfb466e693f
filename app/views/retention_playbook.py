"""The ``trigger_playbook(date)`` action: turn a date's retention alert into a delivered action pack.

One run, in order (docs/retention_playbook.md):

1. the alert decision of the date (``get_alert_decision``); INFO means nothing to act on: the run
   is recorded ``skipped`` and nothing is built or sent;
2. WARNING: the priority queue (``build_priority_queue``), the P1 and P2 audience exports
   (``export_audience``) and the markdown brief (``generate_brief``), written to the run folder;
   CRITICAL: the same plus the P3 export and the escalation flag;
3. the payload is posted to the playbook webhook, or written to the run folder in shadow mode
   (:mod:`app.retention.delivery`);
4. the run's row in ``ops_runs_log`` holds the counts, the artifact paths, the webhook status and
   the timing (:mod:`app.retention.runs`), whatever happened.

The queue build and the exports run as their own audited actions, so they are idempotent per date
too and a queue already built for the date is reused. The action needs the merchant's approval;
``execute_action`` runs it once per date (a repeated trigger is a ``duplicate``), and the webhook
idempotency key protects a POST retried after a lost answer. A failed delivery fails the action
(audited as ``failed``, the outbox holding the brief and export paths), so it can be triggered again.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from app.errors import DataUnavailableError, DeliveryFailedError
from app.retention.delivery import WEBHOOK_URL_ENV, PlaybookSettings, deliver, idempotency_key, write_text
from app.retention.runs import RunLog
from app.retention.settings import TIERS, Tier, load_settings
from app.views.actions import ActionContext, execute_action
from app.views.base import ViewModel
from app.views.registry import ActionSpec
from app.views.retention_ops import DateArgs

__all__ = ["PlaybookRun", "TRIGGER_PLAYBOOK", "playbook_settings", "using_playbook_settings", "trigger_playbook"]

_OVERRIDE: ContextVar[PlaybookSettings | None] = ContextVar("playbook_settings", default=None)


def playbook_settings() -> PlaybookSettings:
    """The delivery settings in force: an override of the caller (CLI options), else the data file's
    ``playbook:`` section with ``$CJSIM_PLAYBOOK_WEBHOOK_URL`` replacing its URL when set."""
    override = _OVERRIDE.get()
    if override is not None:
        return override
    settings = load_settings().playbook
    env_url = os.environ.get(WEBHOOK_URL_ENV, "").strip()
    return settings.with_overrides(webhook_url=env_url) if env_url else settings


@contextmanager
def using_playbook_settings(settings: PlaybookSettings) -> Iterator[PlaybookSettings]:
    """Run the playbooks triggered inside the block with ``settings`` (e.g. ``--live --webhook-url``)."""
    token = _OVERRIDE.set(settings)
    try:
        yield settings
    finally:
        _OVERRIDE.reset(token)


class PlaybookRun(ViewModel):
    """What a playbook run did (the run's ``ops_runs_log`` row holds the same, plus timing)."""

    run_id: int
    date: dt.date
    status: Literal["success", "skipped"]
    severity: str
    alert_flag: bool
    escalation: bool = Field(description="CRITICAL: mention the channel, highest ticket priority, P3 exported too")
    reason: str = Field(description="the alert decision's reason")
    p1_count: int | None
    p2_count: int | None
    p3_count: int | None
    exported: dict[Tier, int] = Field(description="rows written per exported tier")
    brief_path: str | None
    export_paths: dict[Tier, str]
    webhook_status: Literal["shadow", "delivered"] | None = Field(description="null when nothing was sent (skipped)")
    response_status: int | None
    payload_path: str | None = Field(description="shadow mode: where the payload was written")
    idempotency_key: str

    def to_text(self) -> str:
        if self.status == "skipped":
            return (
                f"No playbook for {self.date}: severity {self.severity}, nothing to act on ({self.reason}). "
                f"Run #{self.run_id} recorded as skipped; nothing was built or sent."
            )
        tiers = ", ".join(f"{t} {n:,}" for t, n in self.exported.items())
        if self.webhook_status == "shadow":
            sent = f"Shadow mode: nothing was posted; the payload is in {self.payload_path}."
        else:
            sent = f"Delivered to the playbook webhook (HTTP {self.response_status})."
        escalate = " Escalated (CRITICAL): the P3 win-back audience is included." if self.escalation else ""
        return (
            f"Playbook {self.severity} for {self.date} (run #{self.run_id}): priority queue P1 {self.p1_count:,}, "
            f"P2 {self.p2_count:,}, P3 {self.p3_count:,}; exported {tiers}; brief in {self.brief_path}.{escalate} {sent}"
        )


def _payload(decision: dict[str, Any], counts: dict[str, Any], brief: str, brief_path: str,
             export_paths: dict[Tier, str], key: str, run_id: int, escalation: bool) -> dict[str, Any]:  # fmt: skip
    """The webhook body: the fields of the retention-ops design, plus what a receiver needs to act safely."""
    return {
        "date": decision["alert_date"],
        "severity": decision["severity"],
        "alert_flag": decision["alert_flag"],
        "escalation": escalation,
        "ticket_priority": "Highest" if escalation else "High",
        "brief_markdown": brief,
        "metrics": {k: decision[k] for k in ("current_value", "baseline_value", "delta_relative_pct", "sample_size")},
        "priority_counts": {t.lower(): counts[f"{t.lower()}_count"] for t in TIERS},
        "export_urls": {t.lower(): p for t, p in export_paths.items()},
        "brief_path": brief_path,
        "run_id": run_id,
        "idempotency_key": key,
    }


def trigger_playbook(ctx: ActionContext, args: DateArgs) -> PlaybookRun:
    """Run the playbook of ``args.date`` (default: the data's current day); see the module docstring."""
    provider = ctx.provider
    if provider is None or provider.ops is None:
        raise DataUnavailableError("trigger_playbook reads the source data and writes the operations store; "
                                   "call it on a data provider with an operations store")  # fmt: skip
    store = provider.ops
    decision = provider.get_view("get_alert_decision", None, date=args.date).to_json()
    day = dt.date.fromisoformat(decision["alert_date"])
    settings = playbook_settings()
    key = idempotency_key(day)
    log = RunLog(store)
    with log.recorded(day, key, now=ctx.now, actor=ctx.actor) as run:
        alert = {k: decision[k] for k in ("severity", "alert_flag", "current_value", "baseline_value",
                                          "delta_relative_pct", "sample_size")}  # fmt: skip
        escalation = decision["severity"] == "CRITICAL"
        run.update(**alert, escalation=escalation)
        common: dict[str, Any] = {
            "run_id": run.run_id, "date": day, "severity": decision["severity"], "alert_flag": decision["alert_flag"],
            "escalation": escalation, "reason": decision["reason"], "idempotency_key": key,
        }  # fmt: skip
        if not decision["alert_flag"]:
            run.update(status="skipped")
            return PlaybookRun(
                **common, status="skipped", p1_count=None, p2_count=None, p3_count=None, exported={},
                brief_path=None, export_paths={}, webhook_status=None, response_status=None, payload_path=None,
            )  # fmt: skip

        def act(name: str, **action_args: Any) -> dict[str, Any]:
            outcome = execute_action(store, name, {"date": day, **action_args}, day=ctx.day, actor=f"{ctx.actor}:playbook",
                                     now=ctx.now, provider=provider)  # fmt: skip
            result: dict[str, Any] = outcome.result
            return result

        counts = act("build_priority_queue")
        run.update(p1_count=counts["p1_count"], p2_count=counts["p2_count"], p3_count=counts["p3_count"])
        tiers: tuple[Tier, ...] = TIERS if escalation else ("P1", "P2")
        exports = {tier: act("export_audience", tier=tier) for tier in tiers}
        export_paths: dict[Tier, str] = {t: e["path"] for t, e in exports.items()}
        exported = {t: int(e["rows_exported"]) for t, e in exports.items()}
        run.update(total_exported=sum(exported.values()),
                   **{f"export_{t.lower()}_path": p for t, p in export_paths.items()})  # fmt: skip
        brief = provider.get_view("generate_brief", None, date=day, format="markdown").to_json()["text"]
        folder = Path(settings.output_dir) / day.isoformat() / f"run-{run.run_id}"
        brief_path = folder / "brief.md"
        write_text(brief_path, brief)
        run.update(brief_path=str(brief_path))
        payload = _payload(decision, counts, brief, str(brief_path), export_paths, key, run.run_id, escalation)
        sent = deliver(payload, settings, run_folder=folder, outbox_name=f"{day.isoformat()}-run-{run.run_id}")
        run.update(webhook_status=sent.status, webhook_attempts=sent.attempts, response_status=sent.response_status,
                   outbox_path=str(sent.outbox_path) if sent.outbox_path else None)  # fmt: skip
        if sent.status == "failed":
            raise DeliveryFailedError(
                f"the playbook of {day} (run #{run.run_id}) was not delivered: {sent.error} after {sent.attempts} "
                f"tr{'y' if sent.attempts == 1 else 'ies'}; the brief and export paths are in {sent.outbox_path}"
            )
        return PlaybookRun(
            **common, status="success", p1_count=counts["p1_count"], p2_count=counts["p2_count"],
            p3_count=counts["p3_count"], exported=exported, brief_path=str(brief_path), export_paths=export_paths,
            webhook_status=sent.status, response_status=sent.response_status,
            payload_path=str(sent.payload_path) if sent.payload_path else None,
        )  # fmt: skip


TRIGGER_PLAYBOOK: ActionSpec[DateArgs, PlaybookRun] = ActionSpec(
    name="trigger_playbook",
    args=DateArgs,
    result=PlaybookRun,
    description="Run the retention playbook of a date: on a WARNING or CRITICAL alert, build the priority queue, "
    "export the audiences, write the brief and send them to the playbook webhook (or, in shadow mode, to a folder); "
    "every run is logged in ops_runs_log.",
    tool="trigger_playbook",
    guidance="Use it last in a retention operations run, after the merchant saw the alert, the queue and the brief; "
    "it asks the merchant first.",
    run=trigger_playbook,
    side_effect="writes customer_priority, audience CSVs, the brief and one ops_runs_log row; posts the webhook "
    "unless in shadow mode",
    requires_approval=True,
    examples=({},),
)
