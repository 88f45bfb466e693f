"""``cjsim run``/``demo``/``graph``/``chat``: outputs and bad-input handling."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.errors import InvalidArgumentError, UnknownNameError
from app.model_specs import make_cj_model, make_merchant_model, parse_spec
from app.scenarios import get_persona, get_scenario

runner = CliRunner()


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--cj-model", "gpt4"], "unknown model spec 'gpt4'; valid model specs:"),
        (["run", "--cj-model", "openai"], "needs a model name, e.g. openai:<model>"),
        (["run", "--cj-model", "script"], "'script' is the offline merchant"),
        (["run", "--merchant-model", "rules"], "'rules' is the offline CJ"),
        (["run", "--workflow", "nightly"], "unknown workflow 'nightly'; valid workflows:"),
        (["run", "--scenario", "boom"], "unknown scenario 'boom'"),
        (["run", "--turns", "0"], "turns must be between 1 and 100"),
        (["run", "--format", "xml"], "unknown format 'xml'; valid formats: text, markdown, json, openai-jsonl"),
    ],
)
def test_run_bad_input_exits_2(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_missing_provider_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "langchain_openai", None)  # import fails as if not installed
    result = invoke("run", "--cj-model", "openai:gpt-4o-mini")
    assert result.exit_code == 2
    assert "pip install -e '.[openai]'" in " ".join(result.output.split())


def test_missing_api_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = type(sys)("langchain_anthropic")
    fake.ChatAnthropic = object
    monkeypatch.setitem(sys.modules, "langchain_anthropic", fake)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(InvalidArgumentError, match="set the ANTHROPIC_API_KEY environment variable"):
        make_cj_model("anthropic:claude-x")


def test_spec_parsing() -> None:
    assert str(parse_spec("ollama:llama3")) == "ollama:llama3"
    with pytest.raises(UnknownNameError):
        parse_spec("hf:foo")
    with pytest.raises(InvalidArgumentError):
        make_merchant_model("rules", get_persona("sarah_chen"), get_scenario("churn_spike"))


def test_graph_command_prints_mermaid() -> None:
    result = invoke("graph")
    assert result.exit_code == 0
    assert "graph TD;" in result.output and "merchant -.-> router;" in result.output


def test_chat_lets_a_human_play_the_merchant(tmp_path: Path) -> None:
    out = tmp_path / "chat.json"
    result = invoke("chat", "--workflow", "ad_hoc_support", "--out", str(out), input="How is our churn rate?\n/quit\n")
    assert result.exit_code == 0, result.output
    assert "CJ:" in result.output and "%" in result.output
    saved = json.loads(out.read_text())
    assert [m["content"] for m in saved["messages"] if m["role"] == "merchant"] == ["How is our churn rate?"]
    assert saved["termination_reason"] == "human_quit"


@pytest.mark.parametrize("rest", ["", "\n"], ids=["end-of-input", "empty-line"])
def test_chat_records_how_the_human_left(tmp_path: Path, rest: str) -> None:
    out = tmp_path / "chat.json"
    result = invoke("chat", "--out", str(out), input=f"How is our churn rate?\n{rest}")
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    saved = json.loads(out.read_text())
    assert saved["termination_reason"] == "human_quit" and "ended: human_quit" in result.output
    assert [m["content"] for m in saved["messages"] if m["role"] == "merchant"] == ["How is our churn rate?"]


def test_run_writes_every_format(tmp_path: Path) -> None:
    for fmt in ("json", "markdown", "openai-jsonl", "text"):
        out = tmp_path / f"t.{fmt}"
        result = invoke("run", "--scenario", "churn_spike", "--workflow", "crisis_response", "--format", fmt, "--out", str(out))
        assert result.exit_code == 0, result.output
        assert out.read_text().strip()
    assert json.loads((tmp_path / "t.json").read_text())["termination_reason"] == "merchant_done"
    assert json.loads((tmp_path / "t.openai-jsonl").read_text())["messages"][0]["role"] == "user"


def test_demo_runs() -> None:
    result = invoke("demo")
    assert result.exit_code == 0, result.output
    assert "merchant_done" in result.output


def test_run_swaps_in_a_production_database_unchanged(tmp_path: Path) -> None:
    """The same conversation on the generated world and on that world loaded into a SQLite file."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    for args in (["db", "init", "--url", url], ["db", "load", "--url", url, "--scenario", "churn_spike", "--merchant", "sarah_chen", "--seed", "2"]):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
    common = ["run", "--scenario", "churn_spike", "--merchant", "sarah_chen", "--seed", "2", "--workflow", "crisis_response"]
    simulated = invoke(*common, "--format", "json")
    production = invoke(*common, "--format", "json", "--provider", "production", "--db-url", url)
    assert simulated.exit_code == production.exit_code == 0, production.output
    a, b = json.loads(simulated.output), json.loads(production.output)
    assert b["meta"]["provider"] == {"name": "production", "url": url}
    a.pop("meta"), b.pop("meta")
    assert a == b


def test_run_production_without_url_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CJSIM_DB_URL", raising=False)
    result = invoke("run", "--provider", "production")
    assert result.exit_code == 2
    assert "needs a database: pass --db-url URL or set CJSIM_DB_URL" in " ".join(result.output.split())


def test_transcripts_mask_database_passwords() -> None:
    from app.storage.url import mask_url

    assert "s3cret" not in mask_url("postgresql+psycopg://cj:s3cret@db.example/shop")
