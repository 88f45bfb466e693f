"""Users' own pytest tests over scenarios: the check helper, parametrized cases and the ``cjsim`` fixture."""

from __future__ import annotations

import pytest

from app.errors import UnknownNameError
from app.testing import check_conversation, scenario_cases
from tests.conftest import cached_agent

pytest_plugins = ["pytester"]


def test_clean_conversation_passes_and_defect_fails_with_named_claims() -> None:
    agent = cached_agent("growth_stall", "marcus_thompson", 0)
    check_conversation("growth_stall", "marcus_thompson", "daily_briefing", provider=agent).assert_passed()

    bad = check_conversation(
        "growth_stall", "marcus_thompson", "daily_briefing", provider=agent, cj_model="rules:hallucinate_numbers"
    )
    with pytest.raises(AssertionError) as info:
        bad.assert_passed("grounding")
    message = str(info.value)
    assert "growth_stall/marcus_thompson/daily_briefing seed 0" in message
    assert "grounding:" in message and "ungrounded:" in message


def test_asserting_an_evaluator_that_did_not_run_is_an_error() -> None:
    check = check_conversation(
        "growth_stall", "marcus_thompson", "daily_briefing", provider=cached_agent("growth_stall", "marcus_thompson", 0),
        keys=["grounding"],
    )
    with pytest.raises(AssertionError, match="evaluators not run: style"):
        check.assert_passed("style")


def test_scenario_cases_cover_the_matrix_and_reject_unknown_names() -> None:
    cases = scenario_cases(scenarios=["churn_spike"], merchants="all", workflows=["crisis_response"], seeds=[0, 1])
    assert [c.id for c in cases][:2] == ["churn_spike-marcus_thompson-crisis_response-0", "churn_spike-marcus_thompson-crisis_response-1"]
    assert len(cases) == 3 * 2
    assert cases[0].values[0] == {"scenario": "churn_spike", "merchant": "marcus_thompson", "workflow": "crisis_response", "seed": 0}
    with pytest.raises(UnknownNameError, match="churn_spik"):
        scenario_cases(scenarios=["churn_spik"])


def test_loading_the_plugin_does_not_load_the_simulator() -> None:
    # pytest loads the plugin in every session of every project that installs cjsim
    import subprocess
    import sys

    code = "import sys, app.testing.pytest_plugin; print(sorted(m for m in sys.modules if m.startswith('app.')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['app.testing', 'app.testing.pytest_plugin']"


USER_TESTS = """
import pytest

def test_briefing(cjsim):
    cjsim.run("growth_stall", "marcus_thompson", "daily_briefing").assert_passed("grounding", "tool_use")

def test_defect_is_visible(cjsim):
    check = cjsim.run("growth_stall", "marcus_thompson", "daily_briefing", cj_model="rules:leak_reasoning")
    with pytest.raises(AssertionError, match="style"):
        check.assert_passed("style")
"""


def test_fixture_is_installed_and_model_option_switches_cj(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)
    # the same suite against a defective CJ: the briefing's grounding assertion now fails
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--cjsim-cj-model", "rules:hallucinate_numbers")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*grounding:*ungrounded:*"])
