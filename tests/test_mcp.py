"""The MCP server driven end to end by the official MCP client, over stdio and streamable HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from app.storage.ops import OpsStore
from app.views import ACTIONS, VIEWS, tool_names
from app.views.registry import ActionSpec

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _server(*args: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "app", "mcp", "serve", *args], env=ENV, cwd=str(ROOT)
    )


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content)


def test_the_stdio_server_serves_every_view_and_audits_every_action(tmp_path: Path) -> None:
    ops_url = f"sqlite:///{tmp_path / 'ops.db'}"
    seen: dict[str, Any] = {}

    async def session() -> None:
        async with Client(_server("--scenario", "churn_spike", "--seed", "1", "--ops-url", ops_url)) as client:
            listed = {t.name: t for t in (await client.list_tools()).tools}
            seen["tools"] = listed
            seen["views"] = {}
            for spec in VIEWS.values():
                for example in spec.examples:
                    seen["views"][(spec.tool, str(example))] = await client.call_tool(spec.tool, example)
            seen["bad"] = await client.call_tool("get_ticket_metrics", {"time_range": "5y"})
            seen["unknown"] = await client.call_tool("get_weather", {})
            note = {"note": "Call Sarah about the late box"}
            seen["unapproved"] = await client.call_tool("save_note", note)
            seen["approve_not_bool"] = await client.call_tool("save_note", {**note, "approve": "yes"})
            seen["approved"] = await client.call_tool("save_note", {**note, "approve": True})
            seen["again"] = await client.call_tool("save_note", {**note, "approve": True})

    anyio.run(session)

    tools = seen["tools"]
    assert list(tools) == tool_names()
    for spec in (*VIEWS.values(), *ACTIONS.values()):
        tool = tools[spec.tool]
        assert spec.description in (tool.description or "") and spec.guidance in (tool.description or "")
        assert set(spec.args.model_fields) <= set(tool.input_schema.get("properties", {}))
        needs = isinstance(spec, ActionSpec) and spec.requires_approval
        assert ("approve" in tool.input_schema.get("properties", {})) is needs
    for (tool, example), result in seen["views"].items():
        assert not result.is_error, f"{tool} {example}: {_text(result)}"
        assert isinstance(result.structured_content, dict) and result.structured_content
        assert result.content[0].text  # the view's own text rendering comes first
    assert seen["bad"].is_error
    assert _text(seen["bad"]).startswith("bad arguments for view 'ticket_metrics': time_range:")
    assert seen["unknown"].is_error and "unknown tool 'get_weather'; valid tools:" in _text(seen["unknown"])
    assert seen["unapproved"].is_error and "needs approval and none was given" in _text(seen["unapproved"])
    assert seen["approve_not_bool"].is_error and "approve must be true or false" in _text(seen["approve_not_bool"])
    assert not seen["approved"].is_error and seen["approved"].structured_content["status"] == "succeeded"
    assert seen["again"].structured_content["status"] == "duplicate"
    assert "Already done earlier" in _text(seen["again"])

    audit = OpsStore.from_url(ops_url).audit("save_note")
    assert [(a.status, a.approval, a.actor) for a in audit] == [
        ("declined", "declined", "mcp"),
        ("succeeded", "approved", "mcp"),
        ("duplicate", "approved", "mcp"),
    ]


def test_a_bad_world_option_ends_the_server_with_a_message() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app", "mcp", "serve", "--scenario", "no_such_scenario"],
        env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2
    assert "unknown scenario 'no_such_scenario'" in done.stderr and "Traceback" not in done.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_server_speaks_streamable_http_on_localhost(tmp_path: Path) -> None:
    ops_url = f"sqlite:///{tmp_path / 'ops.db'}"
    made = subprocess.run(
        [sys.executable, "-m", "app", "mcp", "keys", "create", "--name", "test", "--allow", "views,actions", "--ops-url", ops_url],
        env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=True,
    )  # fmt: skip
    key = made.stdout.strip()
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "mcp", "serve", "--http", "--port", str(port), "--ops-url", ops_url],
        env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the HTTP server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
                time.sleep(0.2)
        out: dict[str, Any] = {}

        async def session() -> None:
            http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
            async with Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http)) as client:
                out["tools"] = [t.name for t in (await client.list_tools()).tools]
                out["call"] = await client.call_tool("get_order_metrics", {})
                out["bad"] = await client.call_tool("get_order_metrics", {"time_range": "1y"})

        anyio.run(session)
        assert out["tools"] == tool_names()
        assert not out["call"].is_error and "Orders" in out["call"].content[0].text
        assert out["bad"].is_error and "bad arguments for view 'order_metrics'" in _text(out["bad"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
