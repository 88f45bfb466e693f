"""Data files: every shipped file validates; broken files give one message naming file and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.datafiles import data_dir
from app.errors import DataFileError, UnknownNameError
from app.models import Persona, Scenario
from app.scenarios import ItemCatalog, personas, scenarios


def test_shipped_catalogs_load() -> None:
    assert len(scenarios().names()) >= 11
    assert {"marcus_thompson", "sarah_chen", "zoe_martinez"} <= set(personas().names())
    for sc in scenarios().all():
        assert sc.merchant_goals and sc.expected and sc.timeline


@pytest.fixture
def scenario_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    shutil.copy(data_dir() / "scenarios" / "growth_stall.yaml", folder / "growth_stall.yaml")
    return folder


def test_malformed_yaml_names_file_and_line(scenario_copy: Path) -> None:
    path = scenario_copy / "growth_stall.yaml"
    path.write_text(path.read_text() + "\nmerchant_goals: [unclosed\n")
    with pytest.raises(DataFileError) as err:
        ItemCatalog.load("scenario", scenario_copy, Scenario)
    message = str(err.value)
    assert str(path) in message and "malformed YAML at line" in message


def test_missing_field_names_field(scenario_copy: Path) -> None:
    path = scenario_copy / "growth_stall.yaml"
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("as_of:")]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFileError, match=r"growth_stall.yaml: field 'as_of': required field is missing; add it"):
        ItemCatalog.load("scenario", scenario_copy, Scenario)


def test_unknown_field_is_an_error(scenario_copy: Path) -> None:
    path = scenario_copy / "growth_stall.yaml"
    path.write_text(path.read_text() + "\nstres_level: high\n")
    with pytest.raises(DataFileError, match=r"field 'stres_level': unknown field; remove it or check its spelling"):
        ItemCatalog.load("scenario", scenario_copy, Scenario)


def test_bad_value_names_nested_field(scenario_copy: Path) -> None:
    path = scenario_copy / "growth_stall.yaml"
    text = path.read_text().replace("stress_level: high", "stress_level: frantic", 1)
    path.write_text(text)
    with pytest.raises(DataFileError, match=r"field 'stress_level': Input should be 'low', 'moderate', 'high'"):
        ItemCatalog.load("scenario", scenario_copy, Scenario)


def test_id_must_match_file_name(scenario_copy: Path) -> None:
    (scenario_copy / "growth_stall.yaml").rename(scenario_copy / "stall.yaml")
    with pytest.raises(DataFileError, match="must equal the file name 'stall'"):
        ItemCatalog.load("scenario", scenario_copy, Scenario)


def test_top_level_must_be_mapping(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("- just\n- a list\n")
    with pytest.raises(DataFileError, match="expected a mapping at the top level"):
        ItemCatalog.load("merchant", tmp_path, Persona)


def test_unknown_persona_lists_valid() -> None:
    with pytest.raises(UnknownNameError) as err:
        personas().get("nobody")
    assert "marcus_thompson" in str(err.value) and "sarah_chen" in str(err.value)


def test_bad_regex_in_a_pattern_file_names_the_field(tmp_path: Path) -> None:
    from app.datafiles import load_model
    from app.stages import MilestoneFile

    path = tmp_path / "milestones.yaml"
    path.write_text("version: 1\nmilestones:\n  greeted: {speaker: cj, patterns: ['(unclosed']}\n")
    with pytest.raises(DataFileError, match=r"field 'milestones.greeted.patterns.0': Value error, bad pattern '\(unclosed'"):
        load_model(path, MilestoneFile)


def test_fallbacks_are_declared_with_the_intents() -> None:
    from app.intents import intents

    catalog = intents()
    assert catalog.fallback_tools("get_crisis_analysis") == ("get_ticket_metrics", "get_daily_briefing")
    assert catalog.fallback_tools("get_financial_metrics") == ()
    assert catalog.fallbacks["analyze_customer_segment"][0].args["filter"] == "{segment}"


def test_fallback_to_an_unknown_tool_names_the_field(tmp_path: Path) -> None:
    from app.datafiles import load_model
    from app.intents import IntentFile

    path = tmp_path / "intents.yaml"
    path.write_text(
        "version: 1\nintents:\n  - {id: churn, description: d, patterns: [churn], tool: get_financial_metrics}\n"
        "fallbacks:\n  get_financial_metrics: [{tool: get_weather}]\n"
    )
    with pytest.raises(DataFileError, match=r"intents.yaml.*unknown tools \['get_weather'\] in fallbacks; valid tools: "):
        load_model(path, IntentFile)


def test_fallbacks_left_in_rule_cj_yaml_say_where_they_moved(tmp_path: Path) -> None:
    from app.datafiles import load_model
    from app.formats.rule_cj import RuleCJTemplates

    path = tmp_path / "rule_cj.yaml"
    shipped = (data_dir() / "prompts" / "rule_cj.yaml").read_text()
    path.write_text(shipped + "\nfallbacks:\n  detect_anomalies: [{tool: get_daily_briefing}]\n")
    with pytest.raises(DataFileError, match=r"rule_cj.yaml.*'fallbacks' moved to data/intents.yaml"):
        load_model(path, RuleCJTemplates)
