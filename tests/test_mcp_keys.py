"""API keys of the MCP HTTP transport: storage (SQLite and PostgreSQL), 401/429 answers, scopes
over real streamable HTTP on localhost, and the ``cjsim mcp keys`` commands."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from sqlalchemy import select
from typer.testing import CliRunner

from app.agents.data_agent import DataAgent
from app.cli import app as cli
from app.errors import InvalidArgumentError, UnknownNameError
from app.mcp import http_app
from app.mcp.http_auth import SCOPE_KEY, ApiKeyMiddleware
from app.mcp.keys import (
    KeyRefused,
    RateLimiter,
    allows,
    authenticate,
    create_key,
    hash_key,
    list_keys,
    parse_allow,
    parse_duration,
    revoke,
)
from app.storage.ops import OPS_MIGRATIONS, OpsStore, ops_metadata
from app.storage.ops_keys import api_keys
from app.views import ACTIONS, VIEWS
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)

runner = CliRunner()
T0 = dt.datetime(2026, 1, 1, 12, 0)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path: Path) -> OpsStore:
    if request.param == "sqlite":
        return OpsStore.from_url(f"sqlite:///{tmp_path / 'ops.db'}")
    return OpsStore.from_url(request.getfixturevalue("pg_schemas").new("keys"))


# --------------------------------------------------------------------------- storage


def test_only_the_hash_of_a_key_is_stored(store: OpsStore) -> None:
    created = create_key(store, name="dashboard", allow="views,save_note", rate_limit=30, expires_in="30d", now=T0)
    key, row = created.key, created.row
    assert key.startswith("cjk_") and len(key) == 52 and row.prefix == key[:12]
    assert store.version == OPS_MIGRATIONS[-1].version == 9
    # the plain key is nowhere in the store: not in the keys table, not in any other table
    dump = store.read(lambda conn: [str(v) for t in ops_metadata.sorted_tables
                                    for r in conn.execute(select(t)) for v in r])  # fmt: skip
    assert dump and not any(key in value or key[12:] in value for value in dump)
    stored = store.read(lambda conn: conn.execute(select(api_keys)).mappings().one())
    assert stored["key_hash"] == hash_key(key) != key and len(stored["key_hash"]) == 64
    assert json.loads(stored["allowed_operations"]) == ["views", "save_note"]
    assert (stored["rate_limit"], stored["expires_at"], stored["revoked_at"]) == (30, T0 + dt.timedelta(days=30), None)
    assert [r.prefix for r in list_keys(store)] == [row.prefix]


def test_a_key_is_refused_when_missing_unknown_expired_or_revoked(store: OpsStore) -> None:
    short = create_key(store, name="short", expires_in="1h", now=T0)
    long = create_key(store, name="long", now=T0)
    assert authenticate(store, short.key, T0 + dt.timedelta(minutes=59)).name == "short"
    refusals = {
        "missing": (None, T0, "needs an API key: send the header 'Authorization: Bearer <key>'"),
        "unknown": ("cjk_" + "0" * 48, T0, "is not valid"),
        "expired": (short.key, T0 + dt.timedelta(hours=1), f"API key {short.row.prefix} is expired"),
    }
    for key, now, phrase in refusals.values():
        with pytest.raises(KeyRefused, match=phrase):
            authenticate(store, key, now)
    assert revoke(store, long.row.prefix, T0).revoked_at == T0
    with pytest.raises(KeyRefused, match=f"API key {long.row.prefix} is revoked"):
        authenticate(store, long.key, T0)
    assert revoke(store, long.row.prefix, T0 + dt.timedelta(days=1)).revoked_at == T0  # revoked once
    with pytest.raises(UnknownNameError, match=r"unknown key 'cjk_nope'; valid keys: cjk_"):
        revoke(store, "cjk_nope")


def test_bad_key_settings_are_refused_before_anything_is_stored() -> None:
    store = OpsStore.in_memory()
    for kwargs, phrase in [
        ({"name": " "}, "--name must not be empty"),
        ({"name": "x", "rate_limit": 0}, "--rate-limit must be between 1 and"),
        ({"name": "x", "allow": "views,get_weather"}, "unknown operation 'get_weather'"),
        ({"name": "x", "allow": " , "}, "--allow names no operation"),
        ({"name": "x", "expires_in": "3w"}, "--expires-in must be a positive number"),
        ({"name": "x", "expires_in": "0d"}, "--expires-in must be a positive number"),
    ]:
        with pytest.raises((InvalidArgumentError, UnknownNameError), match=phrase):
            create_key(store, **kwargs)
    assert list_keys(store) == []
    assert parse_duration("12h") == dt.timedelta(hours=12) and parse_duration("45m") == dt.timedelta(minutes=45)
    assert parse_allow("views, views,save_note") == ["views", "save_note"]


def test_groups_and_tool_names_decide_what_a_key_may_call() -> None:
    store = OpsStore.in_memory()
    views = create_key(store, name="v", allow="views", now=T0).row
    one = create_key(store, name="one", allow="get_notes,save_note", now=T0).row
    every = create_key(store, name="all", allow="views,actions", now=T0).row
    view_tools = {s.tool for s in VIEWS.values()}
    action_tools = {s.tool for s in ACTIONS.values()}
    assert {t for t in view_tools | action_tools if allows(views, t)} == view_tools
    assert {t for t in view_tools | action_tools if allows(one, t)} == {"get_notes", "save_note"}
    assert all(allows(every, t) for t in view_tools | action_tools)


def test_the_rate_limit_is_a_token_bucket_on_an_injected_clock() -> None:
    clock = [100.0]
    limiter = RateLimiter(clock=lambda: clock[0])
    assert [limiter.acquire("a", 3) for _ in range(4)] == [0, 0, 0, 20]  # 3 a minute: one token per 20 s
    assert limiter.acquire("b", 3) == 0  # per key
    clock[0] += 19.0
    assert limiter.acquire("a", 3) == 1
    clock[0] += 1.0
    assert limiter.acquire("a", 3) == 0
    clock[0] += 3600.0  # an idle key refills to its limit, never beyond
    assert [limiter.acquire("a", 3) for _ in range(4)] == [0, 0, 0, 20]


# --------------------------------------------------------------------------- HTTP answers (in process)


async def _echo(scope: Any, receive: Any, send: Any) -> None:
    """Stands in for the MCP app: answers 200 with the key it was handed."""
    body = json.dumps({"prefix": scope[SCOPE_KEY].prefix}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def _ask(middleware: ApiKeyMiddleware, headers: list[dict[str, str]]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=middleware)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return [await client.post("/mcp", headers=h, json={}) for h in headers]

    return anyio.run(run)


def test_requests_without_an_active_key_get_401_and_too_many_get_429(store: OpsStore) -> None:
    now = [T0]
    clock = [0.0]
    middleware = ApiKeyMiddleware(_echo, store, RateLimiter(clock=lambda: clock[0]), now=lambda: now[0])
    good = create_key(store, name="good", rate_limit=2, now=T0)
    expiring = create_key(store, name="soon", expires_in="1m", now=T0)
    revoked = create_key(store, name="gone", now=T0)
    revoke(store, revoked.row.prefix, T0)
    now[0] = T0 + dt.timedelta(minutes=1)

    refused = _ask(middleware, [{}, {"Authorization": f"Basic {good.key}"}, {"Authorization": "Bearer cjk_0000"},
                                {"Authorization": f"Bearer {expiring.key}"}, {"Authorization": f"Bearer {revoked.key}"}])  # fmt: skip
    assert [r.status_code for r in refused] == [401] * 5
    messages = [r.json()["error_description"] for r in refused]
    assert all(r.json()["error"] == "invalid_token" and r.headers["www-authenticate"].startswith("Bearer ") for r in refused)
    assert "send the header 'Authorization: Bearer <key>'" in messages[0] == messages[1]
    assert "not valid" in messages[2]
    assert f"{expiring.row.prefix} is expired" in messages[3] and f"{revoked.row.prefix} is revoked" in messages[4]

    bearer = {"Authorization": f"Bearer {good.key}"}
    answered = _ask(middleware, [bearer, bearer, bearer])
    assert [r.status_code for r in answered] == [200, 200, 429]
    assert answered[0].json() == {"prefix": good.row.prefix}
    assert answered[2].headers["retry-after"] == "30" and answered[2].json()["error"] == "rate_limited"
    assert "over its limit of 2 requests per minute; retry after 30 s" in answered[2].json()["error_description"]
    clock[0] += 30.0
    assert [r.status_code for r in _ask(middleware, [bearer])] == [200]

    def usage() -> tuple[int, dt.datetime | None]:
        used = {r.prefix: r for r in list_keys(store)}[good.row.prefix]
        return used.request_count, used.last_used_at

    assert usage() == (1, now[0])  # the first request is written; the next ones within a second wait
    now[0] += dt.timedelta(seconds=1)
    clock[0] += 30.0
    assert [r.status_code for r in _ask(middleware, [bearer])] == [200]
    assert usage() == (4, now[0])  # a second later: written with the requests counted meanwhile
    clock[0] += 30.0
    assert [r.status_code for r in _ask(middleware, [bearer])] == [200]
    middleware.flush()
    assert usage() == (5, now[0])  # refused requests (401, 429) never count as use


# --------------------------------------------------------------------------- real streamable HTTP


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serving(asgi: Any) -> Iterator[str]:
    """``asgi`` served by uvicorn on a free localhost port, in a thread; yields the MCP URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(asgi, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(600):
        if server.started:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the HTTP server did not start")
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _client(url: str, key: str) -> Client:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    return Client(streamable_http_client(url, http_client=http))


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, OpsStore, Any]]:
    """A generated world served over HTTP, its actions and keys in one SQLite operations store."""
    store = OpsStore.from_url(f"sqlite:///{tmp_path_factory.mktemp('keys') / 'ops.db'}")
    agent = DataAgent.create("growth_stall", "marcus_thompson", seed=0)
    agent.ops = store
    asgi = http_app(agent, store)
    with _serving(asgi) as url:
        yield url, store, asgi


def test_a_key_calls_its_tools_over_streamable_http(served) -> None:
    url, store, asgi = served
    key = create_key(store, name="notes bot", allow="views,save_note").key
    prefix = key[:12]
    out: dict[str, Any] = {}

    async def session() -> None:
        async with _client(url, key) as client:
            out["tools"] = [t.name for t in (await client.list_tools()).tools]
            out["view"] = await client.call_tool("get_order_metrics", {})
            out["note"] = await client.call_tool("save_note", {"note": "Call Sarah", "approve": True})
            out["refused"] = await client.call_tool("trigger_playbook", {"approve": True})
            out["unknown"] = await client.call_tool("get_weather", {})

    anyio.run(session)
    assert out["tools"] == [s.tool for s in VIEWS.values()] + ["save_note"]  # only what the key allows
    assert not out["view"].is_error and "Orders" in out["view"].content[0].text
    assert not out["note"].is_error and out["note"].structured_content["status"] == "succeeded"
    assert out["refused"].is_error
    assert _text(out["refused"]).startswith(f"API key {prefix} (notes bot) may not call 'trigger_playbook'; it allows views, save_note")
    assert "unknown tool 'get_weather'" in _text(out["unknown"])
    # the refusal is audited like other refusals; the action names the key that asked
    assert [(a.status, a.approval, a.actor) for a in store.audit("trigger_playbook")] == [("declined", "declined", f"mcp:{prefix}")]
    assert [(a.status, a.actor) for a in store.audit("save_note")] == [("succeeded", f"mcp:{prefix}")]
    assert store.audit("trigger_playbook")[0].arguments == {"approve": True}
    asgi.flush()
    used = {r.prefix: r for r in list_keys(store)}[prefix]
    assert used.last_used_at is not None and used.request_count >= 5  # initialize, list, 4 calls (+ the stream's GET)


def test_streamable_http_without_a_valid_key_gets_401(served) -> None:
    url, store, _asgi = served
    key = create_key(store, name="soon revoked").key
    revoke(store, key[:12])
    hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}  # fmt: skip
    accept = {"Accept": "application/json, text/event-stream"}
    answers = [httpx.post(url, json=hello, headers={**accept, **extra}, timeout=30)
               for extra in ({}, {"Authorization": f"Bearer {key}"})]  # fmt: skip
    assert [a.status_code for a in answers] == [401, 401]
    assert "is revoked" in answers[1].json()["error_description"]

    async def session() -> None:
        async with _client(url, key) as client:
            await client.list_tools()

    with pytest.raises(Exception):  # noqa: B017 - the SDK client fails to connect, whatever its error type
        anyio.run(session)


# --------------------------------------------------------------------------- CLI


def test_the_keys_commands_create_list_and_revoke(tmp_path: Path, monkeypatch) -> None:
    ops = f"sqlite:///{tmp_path / 'ops.db'}"
    made = runner.invoke(cli, ["mcp", "keys", "create", "--name", "ci", "--ops-url", ops, "--allow", "views,actions",
                               "--rate-limit", "10", "--expires-in", "7d", "--json"])  # fmt: skip
    assert made.exit_code == 0, made.output
    key = json.loads(made.stdout)
    assert key["key"].startswith(key["prefix"]) and key["allowed_operations"] == ["views", "actions"]
    listed = runner.invoke(cli, ["mcp", "keys", "list", "--ops-url", ops, "--json"])
    assert [(k["prefix"], k["state"], k["rate_limit"]) for k in json.loads(listed.stdout)] == [(key["prefix"], "active", 10)]
    assert key["key"] not in listed.stdout
    served: dict[str, Any] = {}
    monkeypatch.setattr("app.mcp.serve_http", lambda data, port, keys=None: served.update(keys=keys))
    assert runner.invoke(cli, ["mcp", "serve", "--http", "--ops-url", ops]).exit_code == 0
    assert isinstance(served["keys"], OpsStore)
    revoked = runner.invoke(cli, ["mcp", "keys", "revoke", key["prefix"], "--ops-url", ops])
    assert revoked.exit_code == 0 and "is revoked" in revoked.output
    listed = runner.invoke(cli, ["mcp", "keys", "list", "--ops-url", ops, "--json"])
    assert [k["state"] for k in json.loads(listed.stdout)] == ["revoked"]
    # no active key left: the HTTP server refuses to start, naming the fix
    refused = runner.invoke(cli, ["mcp", "serve", "--http", "--ops-url", ops])
    assert refused.exit_code == 2 and "holds no active API key; create one with `cjsim mcp keys create" in " ".join(refused.output.split())
    dev = runner.invoke(cli, ["mcp", "serve", "--http", "--no-auth"])
    assert dev.exit_code == 0 and served["keys"] is None
    assert "warning: --no-auth: anyone who can reach the port can call every tool" in " ".join(dev.output.split())
