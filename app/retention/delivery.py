"""Delivering a retention playbook: one JSON POST to the merchant's webhook, or nothing in shadow mode.

The receiver (a Make.com or Zapier scenario, a small service of the merchant's) posts the brief to
chat, opens a ticket and uploads the audiences. Delivery here is deliberately narrow:

* **shadow mode** (the default until a merchant turns it off): the payload is written to the run's
  folder beside the brief and the exports, and nothing is posted;
* **live**: the payload is POSTed with an ``Idempotency-Key`` header (also in the payload as
  ``idempotency_key``). Only transient failures are retried (connection errors, timeouts, 5xx):
  ``retries`` more tries, ``retry_delay_s`` apart. A 4xx (or any other non-2xx answer) is the
  receiver refusing the payload, and sending it again would not change that, so it is final;
* after a final failure the brief and export paths go to the **outbox** folder (the email backup a
  person or a mail job picks up) and the delivery reports ``failed``.

The key is the same for every try and every re-trigger of one run date, so a receiver that
remembers keys executes a playbook once even when a response was lost and the POST was retried.

Example:
    >>> settings = PlaybookSettings()
    >>> settings.shadow, settings.retries, settings.retry_delay_s
    (True, 2, 5.0)
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import Field, field_validator

from app.errors import InvalidArgumentError
from app.models import StrictModel

__all__ = [
    "PlaybookSettings",
    "Delivery",
    "DeliveryStatus",
    "IDEMPOTENCY_HEADER",
    "WEBHOOK_URL_ENV",
    "idempotency_key",
    "check_webhook_url",
    "deliver",
    "write_text",
    "write_json",
]

IDEMPOTENCY_HEADER = "Idempotency-Key"
WEBHOOK_URL_ENV = "CJSIM_PLAYBOOK_WEBHOOK_URL"
"""Environment variable naming the webhook URL (wins over the data file; a CLI option wins over it)."""

DeliveryStatus = Literal["shadow", "delivered", "failed"]


def check_webhook_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL with a host; otherwise an error naming the fix."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgumentError(
            f"webhook URL {url!r} is not an http(s) URL; give e.g. https://hook.eu1.make.com/abc123"
        )
    return url.strip()


class PlaybookSettings(StrictModel):
    """How playbooks are delivered (the ``playbook:`` section of ``data/retention_ops.yaml``)."""

    shadow: bool = Field(
        default=True, description="Generate everything, post nothing: the payload is written to the run folder."
    )
    webhook_url: str | None = Field(default=None, description="Where a live run POSTs its payload (http or https).")
    retries: int = Field(
        default=2, ge=0, le=10, description="More tries after a transient failure (connection, timeout, 5xx)."
    )
    retry_delay_s: float = Field(default=5.0, ge=0, le=600, description="Seconds between tries.")
    timeout_s: float = Field(default=10.0, gt=0, le=600, description="Seconds one POST may take, connecting included.")
    output_dir: str = Field(
        default="retention_runs", min_length=1,
        description="Folder of the runs' briefs, exports and (shadow mode) payloads; relative paths are under the working folder.",
    )  # fmt: skip
    outbox_dir: str = Field(
        default="retention_runs/outbox", min_length=1,
        description="Folder where a run whose webhook failed leaves its brief and export paths (the email backup).",
    )  # fmt: skip

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_webhook_url(value)
        except InvalidArgumentError as exc:
            raise ValueError(str(exc)) from None

    def with_overrides(self, *, webhook_url: str | None = None, shadow: bool | None = None) -> PlaybookSettings:
        """These settings with a webhook URL and/or the mode replaced (CLI options, environment)."""
        changes: dict[str, Any] = {}
        if webhook_url is not None:
            changes["webhook_url"] = check_webhook_url(webhook_url)
        if shadow is not None:
            changes["shadow"] = shadow
        return self.model_validate({**self.model_dump(), **changes})

    def live_url(self) -> str:
        """The URL a live run posts to; live mode without one is refused, naming the three ways to give it."""
        if self.webhook_url is None:
            raise InvalidArgumentError(
                "live playbook delivery needs a webhook URL: set playbook.webhook_url in data/retention_ops.yaml, "
                f"export {WEBHOOK_URL_ENV}, or pass --webhook-url (or stay in shadow mode)"
            )
        return self.webhook_url


def idempotency_key(run_date: dt.date, store: str = "") -> str:
    """The key of every POST for ``run_date``: re-triggers and retries of one date carry the same key."""
    scope = f"{store}:" if store else ""
    return f"cjsim-playbook:{scope}{run_date.isoformat()}"


@dataclass(frozen=True)
class Delivery:
    """How delivering one payload ended."""

    status: DeliveryStatus
    attempts: int
    """POSTs made (0 in shadow mode)."""
    response_status: int | None
    """HTTP status of the last answer, if any came."""
    error: str | None
    """Why a failed delivery failed (the last try's problem)."""
    payload_path: Path | None
    """Shadow mode: where the payload was written."""
    outbox_path: Path | None
    """Failed delivery: the outbox file with the brief and export paths."""


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` (creating the folder); an unwritable folder is a clear error naming the settings."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidArgumentError(
            f"cannot write {path}: {exc.strerror or exc}; check playbook.output_dir and playbook.outbox_dir"
        ) from None
    return path


def write_json(path: Path, data: Mapping[str, Any]) -> Path:
    """Write ``data`` as indented JSON (see :func:`write_text`)."""
    return write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def deliver(
    payload: Mapping[str, Any],
    settings: PlaybookSettings,
    *,
    run_folder: Path,
    outbox_name: str,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
) -> Delivery:
    """Post ``payload`` (or, in shadow mode, write it to ``run_folder/payload.json``).

    Args:
        payload: the JSON body; must hold ``idempotency_key``, sent as the ``Idempotency-Key`` header too.
        settings: mode, URL, retries, delay, timeout and the outbox folder.
        run_folder: the run's folder (shadow mode writes the payload there).
        outbox_name: file name stem of the outbox entry written after a final failure.
        sleep: how to wait between tries (tests pass a no-op).
        transport: an httpx transport (tests); the default opens real connections.

    Raises:
        InvalidArgumentError: live mode without a webhook URL; a folder that cannot be written.
    """
    if settings.shadow:
        return Delivery("shadow", 0, None, None, write_json(run_folder / "payload.json", payload), None)
    url = settings.live_url()
    headers = {IDEMPOTENCY_HEADER: str(payload["idempotency_key"])}
    attempts, status, error = 0, None, None
    with httpx.Client(timeout=settings.timeout_s, transport=transport, follow_redirects=False) as client:
        for attempt in range(settings.retries + 1):
            if attempt:
                sleep(settings.retry_delay_s)
            attempts += 1
            try:
                response = client.post(url, json=dict(payload), headers=headers)
            except httpx.TimeoutException:
                status, error = None, f"no answer within {settings.timeout_s:g} s"
                continue
            except httpx.TransportError as exc:
                status, error = None, f"cannot connect ({type(exc).__name__}: {exc})"
                continue
            status = response.status_code
            if response.is_success:
                return Delivery("delivered", attempts, status, None, None, None)
            error = f"HTTP {status} {response.reason_phrase}".strip()
            if status < 500:
                break  # the receiver refused this payload: a retry would be refused too
    outbox = Path(settings.outbox_dir) / f"{outbox_name}.json"
    note = {
        "subject": f"Retention playbook for {payload.get('date')} was not delivered ({payload.get('severity')})",
        "error": error,
        "attempts": attempts,
        "webhook_url": url,
        "idempotency_key": payload["idempotency_key"],
        "brief_path": payload.get("brief_path"),
        "export_paths": payload.get("export_urls"),
        "priority_counts": payload.get("priority_counts"),
    }
    return Delivery("failed", attempts, status, error, None, write_json(outbox, note))
