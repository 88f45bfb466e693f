"""The catalog: every data file validated once at load; a broken file of any kind names file and field.

Each case breaks one file in a temporary copy of ``data/`` and loads that copy.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from app.catalog import Catalog
from app.datafiles import data_dir
from app.errors import DataFileError
from app.scenarios import get_scenario


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(data_dir(), target)
    return target


def replace_in(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def append_to(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def load_error(folder: Path) -> str:
    with pytest.raises(DataFileError) as err:
        Catalog.load(folder)
    return str(err.value)


def test_shipped_data_loads_and_exposes_every_kind() -> None:
    catalog = Catalog.load()
    assert catalog.data_dir == data_dir()
    assert "growth_stall" in catalog.scenarios and "marcus_thompson" in catalog.personas
    assert "crisis_response" in catalog.workflows and "churn" in catalog.intents
    assert "recommended_action" in catalog.milestones.names()
    assert catalog.prompts.rule_cj.default_tools and catalog.prompts.merchant_script.styles
    assert catalog.prompts.defects.skip_tools.default and catalog.rubrics.criteria["accuracy"].examples
    assert "{business_name}" in catalog.prompts.system.text("cj_system", 1)


# --------------------------------------------------------------------------- one broken file of each kind

Breaker = Callable[[Path], None]

BROKEN_FILES: list[tuple[str, Breaker, str]] = [
    (
        "scenario",
        lambda d: replace_in(d / "scenarios/growth_stall.yaml", "stress_level: high", "stress_level: frantic"),
        "growth_stall.yaml: field 'stress_level': Input should be",
    ),
    (
        "persona",
        lambda d: append_to(d / "merchants/sarah_chen.yaml", "\nbaseline_subscriberz: 10\n"),
        "sarah_chen.yaml: field 'baseline_subscriberz': unknown field",
    ),
    (
        "workflows",
        lambda d: replace_in(d / "workflow_definitions.yaml", "initiator: cj", "initiator: robot"),
        "workflow_definitions.yaml: field 'workflows.0.initiator'",
    ),
    (
        "workflow goal",
        lambda d: replace_in(d / "workflow_definitions.yaml", "metric: get_alert_decision.current_value", "metric: get_alert_decision.nope"),
        "workflow_definitions.yaml: field 'workflows.retention_ops.merchant_goals.0.metric'",
    ),
    (
        "rule CJ result arguments",
        lambda d: replace_in(d / "prompts/rule_cj.yaml", "[get_customer_health.alert.alert_id,", "[get_customer_wealth.alert.alert_id,"),
        "rule_cj.yaml: field 'result_args.acknowledge_alert.alert_id.0': 'get_customer_wealth.alert.alert_id' is not",
    ),
    (
        "intents",
        lambda d: replace_in(d / "intents.yaml", "tool: get_crisis_analysis", "tool: get_crystal_ball"),
        "': Value error, unknown tool 'get_crystal_ball'",
    ),
    (
        "milestones",
        lambda d: replace_in(d / "milestones.yaml", "speaker: cj", "speaker: nobody"),
        "milestones.yaml: field 'milestones.greeted.speaker'",
    ),
    (
        "evaluation settings",
        lambda d: replace_in(d / "evaluation.yaml", "pass_threshold:", "pass_threshold: 7 #"),
        "evaluation.yaml: field 'judge.pass_threshold'",
    ),
    (
        "rule CJ templates",
        lambda d: replace_in(d / "prompts/rule_cj.yaml", "{first_name}", "{first_nmae}"),
        "rule_cj.yaml: field 'tone.stress.",
    ),
    (
        "scripted merchant script",
        lambda d: replace_in(d / "prompts/scripted_merchant.yaml", '"{react} {ask}"', '"{react} {question}"'),
        "scripted_merchant.yaml: field 'styles.",
    ),
    (
        "defect wording",
        lambda d: replace_in(d / "prompts/defects.yaml", "about {topic}, so", "about {subject}, so"),
        "defects.yaml: field 'leak_reasoning.",
    ),
    (
        "CJ system prompt",
        lambda d: replace_in(d / "prompts/cj_system_v1.md", "{merchant_name}", "{merchant_nmae}"),
        "cj_system_v1.md: unknown placeholder(s) {merchant_nmae}",
    ),
    (
        "merchant system prompt",
        lambda d: append_to(d / "prompts/merchant_system_v1.md", "\nReply in JSON: {\"done\": true}\n"),
        "merchant_system_v1.md: unknown placeholder(s)",
    ),
]


@pytest.mark.parametrize(("kind", "breaker", "message"), BROKEN_FILES, ids=[b[0] for b in BROKEN_FILES])
def test_a_broken_file_of_each_kind_fails_at_load(data_copy: Path, kind: str, breaker: Breaker, message: str) -> None:
    breaker(data_copy)
    error = load_error(data_copy)
    assert message in error
    assert str(data_copy) in error


@pytest.mark.parametrize(
    "relative",
    ["scenarios/churn_spike.yaml", "intents.yaml", "prompts/rule_cj.yaml", "prompts/scripted_merchant.yaml",
     "prompts/defects.yaml", "evaluation.yaml"],
)  # fmt: skip
def test_malformed_yaml_in_any_file_fails_at_load(data_copy: Path, relative: str) -> None:
    append_to(data_copy / relative, "\nbroken: [unclosed\n")
    error = load_error(data_copy)
    assert f"{relative}: malformed YAML at line" in error and "fix the syntax" in error


@pytest.mark.parametrize("relative", ["prompts/rule_cj.yaml", "scenarios/growth_stall.yaml", "intents.yaml"])
def test_a_file_that_is_not_utf8_is_a_data_file_error(data_copy: Path, relative: str) -> None:
    path = data_copy / relative
    path.write_bytes(path.read_bytes() + "\n# caf\xe9\n".encode("latin-1"))
    error = load_error(data_copy)
    assert f"{relative}:" in error and "not valid UTF-8 (byte 0xe9); save the file as UTF-8" in error


def test_a_missing_file_is_named(data_copy: Path) -> None:
    (data_copy / "prompts" / "scripted_merchant.yaml").unlink()
    assert "scripted_merchant.yaml: cannot read file" in load_error(data_copy)
    (data_copy / "prompts" / "cj_system_v2.md").unlink()
    shutil.copy(data_dir() / "prompts" / "scripted_merchant.yaml", data_copy / "prompts")
    assert "cj_system_v2.md: prompt file not found" in load_error(data_copy)


def test_a_missing_data_folder_is_named(tmp_path: Path) -> None:
    assert "data folder not found; point CJSIM_DATA_DIR at a copy of data/" in load_error(tmp_path / "nowhere")


# --------------------------------------------------------------------------- duplicated keys


@pytest.mark.parametrize(
    ("relative", "old", "new", "field"),
    [
        ("prompts/rule_cj.yaml", "max_tools_per_ask:", "max_tools_per_ask: 1\nmax_tools_per_ask:", "max_tools_per_ask"),
        ("scenarios/growth_stall.yaml", "stress_level: high", "stress_level: high\nstress_level: low", "stress_level"),
        ("milestones.yaml", "    speaker: cj", "    speaker: cj\n    speaker: merchant", "milestones.greeted.speaker"),
    ],
)
def test_a_duplicated_key_is_an_error_naming_the_field(
    data_copy: Path, relative: str, old: str, new: str, field: str
) -> None:
    replace_in(data_copy / relative, old, new)
    error = load_error(data_copy)
    assert f"{relative}: field '{field}': key written twice (lines" in error and "keep one of them" in error


# --------------------------------------------------------------------------- references between files


def test_a_transition_trigger_must_name_an_intent(data_copy: Path) -> None:
    replace_in(data_copy / "workflow_definitions.yaml", "trigger: crisis_report", "trigger: meltdown")
    error = load_error(data_copy)
    assert "workflow_definitions.yaml: field 'workflows." in error and ".trigger': unknown intent 'meltdown'" in error
    assert "use an id of intents.yaml" in error


def test_stage_arguments_must_be_in_the_view_domain(data_copy: Path) -> None:
    replace_in(data_copy / "workflow_definitions.yaml", "segment: at_risk", "segment: vampires")
    error = load_error(data_copy)
    assert ".conversation_flow." in error and ".args': bad arguments for view 'customer_segment': segment:" in error
    assert "fix the arguments of analyze_customer_segment" in error


def test_intent_arguments_must_be_in_the_view_domain(data_copy: Path) -> None:
    replace_in(data_copy / "intents.yaml", "args: {time_range: 3d, category: shipping_delay}",
               "args: {time_range: 3d, category: shipping_delay, window: 12}")  # fmt: skip
    error = load_error(data_copy)
    assert "intents.yaml: field 'intents." in error and "window: unknown argument" in error


def test_an_intent_extract_must_name_an_argument(data_copy: Path) -> None:
    replace_in(data_copy / "intents.yaml", "extract: customer_id", "extract: customer")
    assert ".extract': get_customer_profile has no argument 'customer'" in load_error(data_copy)


def test_an_intent_workflow_must_exist(data_copy: Path) -> None:
    replace_in(data_copy / "intents.yaml", "workflow: crisis_response", "workflow: panic_mode")
    assert ".workflow': unknown workflow 'panic_mode'; valid workflows:" in load_error(data_copy)


def test_a_goal_metric_must_name_a_view(data_copy: Path) -> None:
    replace_in(data_copy / "scenarios/churn_spike.yaml", "metric: financial_metrics.", "metric: money_metrics.")
    error = load_error(data_copy)
    assert "churn_spike.yaml: field '" in error and "unknown view 'money_metrics'" in error


def test_a_metric_path_must_name_a_value_of_the_view(data_copy: Path) -> None:
    replace_in(data_copy / "scenarios/growth_stall.yaml", "financial_metrics.churn_rate.current",
               "financial_metrics.churn_rte.current")  # fmt: skip
    error = load_error(data_copy)
    assert "growth_stall.yaml: field '" in error and "financial_metrics has no field 'churn_rte'" in error


def test_an_impossible_expected_range_is_named_as_such(data_copy: Path) -> None:
    replace_in(
        data_copy / "scenarios/growth_stall.yaml",
        "\nexpected:\n",
        "\nexpected:\n  - metric: financial_metrics.mrr.current\n    args: {time_range: 30d}\n    min: 9000\n    max: 100\n",
    )
    error = load_error(data_copy)
    assert "growth_stall.yaml: field 'expected.0': Value error, impossible range" in error
    assert "impossible range: min/max 9000.0 > 100.0, so no value can pass" in error


def test_settings_and_templates_must_name_intents(data_copy: Path) -> None:
    replace_in(data_copy / "prompts/rule_cj.yaml", "recommend_intents: [", "recommend_intents: [advise_me, ")
    assert "rule_cj.yaml: field 'recommend_intents.0': unknown intent 'advise_me'" in load_error(data_copy)


def test_evaluation_settings_must_name_intents(data_copy: Path) -> None:
    replace_in(data_copy / "evaluation.yaml", "pushback_intents: [", "pushback_intents: [grumble, ")
    assert "evaluation.yaml: field 'style.pushback_intents.0': unknown intent 'grumble'" in load_error(data_copy)


def test_a_milestone_stage_needs_a_rule(data_copy: Path) -> None:
    path = data_copy / "milestones.yaml"
    text = path.read_text()
    start = text.index("  answered:")
    end = text.index("  recommended_action:")
    path.write_text(text[:start] + text[end:])
    error = load_error(data_copy)
    assert ".milestone': milestones.yaml has no rule for 'answered', so the stage could never complete" in error


# --------------------------------------------------------------------------- the default catalog


def test_default_is_shared_and_follows_the_data_dir(data_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Catalog.default() is Catalog.default()
    original = get_scenario("growth_stall").display_name
    replace_in(data_copy / "scenarios/growth_stall.yaml", f"display_name: {original}", "display_name: Renamed Stall")
    monkeypatch.setenv("CJSIM_DATA_DIR", str(data_copy))
    assert get_scenario("growth_stall").display_name == "Renamed Stall"
    assert Catalog.default().data_dir == data_copy
    monkeypatch.delenv("CJSIM_DATA_DIR")
    assert get_scenario("growth_stall").display_name == original


def test_a_broken_default_data_dir_fails_every_lookup(data_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    replace_in(data_copy / "prompts/rule_cj.yaml", "{first_name}", "{first_nmae}")
    monkeypatch.setenv("CJSIM_DATA_DIR", str(data_copy))
    with pytest.raises(DataFileError, match=r"rule_cj\.yaml"):
        get_scenario("growth_stall")


def test_every_tool_the_rule_cj_can_call_needs_an_answer(data_copy: Path) -> None:
    import yaml

    path = data_copy / "prompts/rule_cj.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    del raw["answers"]["search_tickets"]  # an intent's tool
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert "rule_cj.yaml: field 'answers': add a default answer for tool 'search_tickets'" in load_error(data_copy)
