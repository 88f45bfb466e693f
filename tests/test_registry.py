"""The registry: every declared view and action is a tool, a CLI command and a JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app as cli
from app.errors import UnknownNameError
from app.graph import build_graph
from app.tools import ALL_TOOLS, build_tools, tools_by_name
from app.views import ACTIONS, CAPABILITIES, VIEWS, by_tool, json_schemas, register, view_spec
from app.views.registry import ViewSpec

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "docs" / "schemas" / "capabilities.schema.json"
runner = CliRunner()


def test_every_capability_is_a_tool_with_its_schema_and_guidance() -> None:
    tools = tools_by_name(build_tools(lambda: None))  # type: ignore[arg-type,return-value]
    assert list(tools) == list(ALL_TOOLS) == [s.tool for s in (*VIEWS.values(), *ACTIONS.values())]
    for spec in CAPABILITIES.values():
        tool = tools[spec.tool]
        assert tool.description == f"{spec.description} {spec.guidance}"
        assert tool.args_schema is spec.args
    assert build_graph().get_graph().nodes["tools"].data.tools_by_name.keys() == set(ALL_TOOLS)


@pytest.mark.parametrize("name", list(VIEWS))
def test_every_view_is_a_cli_command(name: str) -> None:
    spec = VIEWS[name]
    for example in spec.examples:
        args = [f"--{k.replace('_', '-')}={','.join(v) if isinstance(v, list) else v}" for k, v in example.items()]
        result = runner.invoke(cli, ["data", name, *args, "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["as_of"]


_WAITING = ["launch_intervention", "--customer-id=C000738", "--playbook-id=PB_RET_001"]
SETUP: dict[str, list[list[str]]] = {"approve_intervention": [_WAITING], "override_intervention": [_WAITING],
                                     "launch_simulated_intervention": [["simulate_intervention", "--iterations=3"]]}
"""Actions whose examples act on a row another action writes: that action's call, run first."""


@pytest.mark.parametrize("name", list(ACTIONS))
def test_every_action_is_a_cli_command(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # actions that write files (audience exports) write them under here
    spec = ACTIONS[name]
    ops = f"sqlite:///{tmp_path / 'ops.db'}"
    for setup in SETUP.get(name, ()):  # what must be on record first (an intervention waiting for approval)
        result = runner.invoke(cli, ["act", *setup, "--ops-url", ops, "--json"])
        assert result.exit_code == 0, result.output
    for example in spec.examples:
        args = [f"--{k.replace('_', '-')}={v}" for k, v in example.items()]
        result = runner.invoke(cli, ["act", name, *args, "--approve", "--ops-url", ops, "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["status"] in {"succeeded", "duplicate"}


def test_every_capability_has_a_published_json_schema() -> None:
    schemas = json_schemas()
    assert list(schemas) == list(CAPABILITIES)
    for name, schema in schemas.items():
        assert schema["input"]["type"] == "object" and schema["output"]["type"] == "object", name
    result = runner.invoke(cli, ["schema"])
    assert result.exit_code == 0 and json.loads(result.output) == json.loads(json.dumps(schemas))
    published = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert published == json.loads(json.dumps(schemas)), "regenerate with: cjsim schema --out " + str(SCHEMA_FILE)


def test_an_undeclared_tool_is_refused_everywhere() -> None:
    with pytest.raises(UnknownNameError, match="valid tools: .*get_daily_briefing"):
        by_tool("delete_everything")
    with pytest.raises(UnknownNameError):
        build_tools(lambda: None, names=["delete_everything"])  # type: ignore[arg-type,return-value]
    for command in (["data", "delete_everything"], ["act", "delete_everything"], ["schema", "delete_everything"]):
        result = runner.invoke(cli, command)
        assert result.exit_code == 2 and "unknown" in result.output, command


def test_names_and_tool_names_are_unique() -> None:
    spec = view_spec("ticket_metrics")
    with pytest.raises(ValueError, match="declared twice"):
        register(spec)
    clash = ViewSpec(
        name="another_view", args=spec.args, result=spec.result, description="d", tool=spec.tool, guidance="g",
        build=spec.build,
    )  # fmt: skip
    with pytest.raises(ValueError, match="used by 'ticket_metrics'"):
        register(clash)
    assert "another_view" not in CAPABILITIES


def test_views_are_provider_methods_with_positional_arguments(growth_stall_agent) -> None:
    agent = growth_stall_agent
    assert agent.ticket_metrics("30d", "billing") == agent.get_view("ticket_metrics", time_range="30d", category="billing")
    with pytest.raises(AttributeError):
        agent.not_a_view  # noqa: B018


@pytest.mark.parametrize("args", [{"name": False}, {"as_of": "2099-01-01"}])
def test_a_model_argument_named_like_a_provider_parameter_is_an_unknown_argument(growth_stall_agent, args) -> None:
    # Found by the fuzz suite: {"name": False} used to clash with get_view's own parameter (TypeError).
    from app.errors import InvalidArgumentError
    from app.tools import call_tool

    with pytest.raises(InvalidArgumentError, match="daily_briefing") as info:
        call_tool(growth_stall_agent, "get_daily_briefing", args)
    assert next(iter(args)) in str(info.value)
