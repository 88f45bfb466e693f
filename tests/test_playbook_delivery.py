"""Webhook delivery against a local receiver: retries of transient failures only, the outbox, shadow mode."""

from __future__ import annotations

import datetime as dt
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from app.errors import InvalidArgumentError
from app.retention.delivery import PlaybookSettings, deliver, idempotency_key
from tests.webhook_server import WebhookServer

KEY = idempotency_key(dt.date(2025, 3, 12))


def _payload() -> dict[str, Any]:
    return {
        "date": "2025-03-12",
        "severity": "WARNING",
        "idempotency_key": KEY,
        "brief_path": "runs/2025-03-12/brief.md",
        "export_urls": {"p1": "runs/2025-03-12/p1.csv"},
        "priority_counts": {"p1": 3, "p2": 5, "p3": 0},
    }


def _live(tmp_path: Path, url: str, **over: Any) -> PlaybookSettings:
    values = {
        "shadow": False,
        "webhook_url": url,
        "retry_delay_s": 0,
        "timeout_s": 5,
        "outbox_dir": str(tmp_path / "outbox"),
    }
    return PlaybookSettings.model_validate({**values, **over})


def _send(tmp_path: Path, settings: PlaybookSettings, waits: list[float] | None = None):
    return deliver(
        _payload(), settings, run_folder=tmp_path / "run", outbox_name="2025-03-12-run1",
        sleep=(waits.append if waits is not None else lambda _s: None),
    )  # fmt: skip


def test_shadow_mode_writes_the_payload_and_posts_nothing(tmp_path: Path) -> None:
    with WebhookServer() as server:
        out = _send(tmp_path, PlaybookSettings(webhook_url=server.url, outbox_dir=str(tmp_path / "outbox")))
    assert out.status == "shadow" and out.attempts == 0
    assert server.requests == []
    assert out.payload_path is not None and json.loads(out.payload_path.read_text())["idempotency_key"] == KEY


def test_transient_failures_are_retried_with_the_same_key_and_executed_once(tmp_path: Path) -> None:
    waits: list[float] = []
    with WebhookServer(fail_first=2, fail_status=503) as server:
        out = _send(tmp_path, _live(tmp_path, server.url, retry_delay_s=0.01), waits)
    assert (out.status, out.attempts, out.response_status) == ("delivered", 3, 200)
    assert waits == [0.01, 0.01]
    assert [r["key"] for r in server.requests] == [KEY] * 3
    assert list(server.executed) == [KEY] and server.executed[KEY]["idempotency_key"] == KEY
    assert not (tmp_path / "outbox").exists()


def test_a_receiver_that_keeps_failing_leaves_the_brief_in_the_outbox(tmp_path: Path) -> None:
    with WebhookServer(fail_first=99, fail_status=500) as server:
        out = _send(tmp_path, _live(tmp_path, server.url))
    assert (out.status, out.attempts, out.response_status) == ("failed", 3, 500)
    assert out.error == "HTTP 500 Internal Server Error" and server.executed == {}
    assert out.outbox_path == tmp_path / "outbox" / "2025-03-12-run1.json"
    note = json.loads(out.outbox_path.read_text())
    assert note["brief_path"] == "runs/2025-03-12/brief.md" and note["export_paths"] == {"p1": "runs/2025-03-12/p1.csv"}
    assert note["attempts"] == 3 and "HTTP 500" in note["error"]


def test_a_client_error_is_final_and_never_retried(tmp_path: Path) -> None:
    with WebhookServer(fail_first=99, fail_status=422) as server:
        out = _send(tmp_path, _live(tmp_path, server.url, retries=5))
    assert (out.status, out.attempts, out.response_status) == ("failed", 1, 422)
    assert len(server.requests) == 1 and out.outbox_path is not None


def test_a_receiver_that_hangs_past_the_timeout_is_retried(tmp_path: Path) -> None:
    with WebhookServer(fail_first=2, hang_s=1.5) as server:
        out = _send(tmp_path, _live(tmp_path, server.url, timeout_s=0.3))
    assert (out.status, out.attempts) == ("delivered", 3)
    assert list(server.executed) == [KEY]


def test_a_receiver_that_always_hangs_fails_with_the_timeout(tmp_path: Path) -> None:
    with WebhookServer(fail_first=99, hang_s=1.0) as server:
        out = _send(tmp_path, _live(tmp_path, server.url, timeout_s=0.2, retries=1))
    assert (out.status, out.attempts, out.response_status) == ("failed", 2, None)
    assert out.error == "no answer within 0.2 s" and server.executed == {}


def test_an_unreachable_receiver_is_retried_then_fails(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the POST: nobody listens there
    out = _send(tmp_path, _live(tmp_path, f"http://127.0.0.1:{port}/hook"))
    assert (out.status, out.attempts) == ("failed", 3)
    assert out.error is not None and out.error.startswith("cannot connect")


def test_live_mode_without_a_url_names_the_three_ways_to_give_one(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidArgumentError, match="playbook.webhook_url .* CJSIM_PLAYBOOK_WEBHOOK_URL, or pass --webhook-url"
    ):
        _send(tmp_path, PlaybookSettings(shadow=False))


@pytest.mark.parametrize("url", ["hook.example.com", "ftp://example.com/x", "http://", ""])
def test_a_bad_webhook_url_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="is not an http\\(s\\) URL"):
        PlaybookSettings(webhook_url=url)
    with pytest.raises(InvalidArgumentError, match="is not an http\\(s\\) URL"):
        PlaybookSettings().with_overrides(webhook_url=url)


def test_overrides_replace_the_url_and_the_mode() -> None:
    settings = PlaybookSettings().with_overrides(webhook_url="https://hook.example.com/x", shadow=False)
    assert (settings.webhook_url, settings.shadow, settings.retries) == ("https://hook.example.com/x", False, 2)
    assert PlaybookSettings(retries=0).with_overrides().retries == 0
