"""The playbooks file: validation, references to effect models, matching."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import DataFileError, InvalidArgumentError
from app.journeys.playbooks import JOURNEY_STAGES, load_playbooks

_ONE = """version: 1
playbooks:
  - playbook_id: PB_X
    name: x
    journey_stage: {stage}
    eligible_segments: [{segment}]
    risk_threshold: 0.5
    default_actions: [{action}]
    approval_required: true
    avg_cost_estimate: 2
    expected_value_range: [{lo}, 10]
    created_at: 2025-01-20
    status: active
"""


def _write(tmp_path: Path, stage: str = "churn_risk", segment: str = "casual", action: str = "pause_offer",
           lo: float = 1) -> Path:  # fmt: skip
    path = tmp_path / "playbooks.yaml"
    path.write_text(_ONE.format(stage=stage, segment=segment, action=action, lo=lo))
    return path


def test_the_shipped_playbooks_load_and_cover_the_risky_stages() -> None:
    playbooks = load_playbooks()
    stages = {p.journey_stage for p in playbooks.playbooks}
    assert {"onboarding", "churn_risk", "support"} <= stages <= set(JOURNEY_STAGES)
    assert any(p.approval_required for p in playbooks.playbooks)
    assert playbooks.get("PB_NEWS_001").default_actions == ["generic_newsletter"]


def test_matching_needs_the_stage_the_segment_the_risk_and_an_active_status(tmp_path: Path) -> None:
    p = load_playbooks(_write(tmp_path)).playbooks[0]
    assert p.applies_to("churn_risk", "casual", 0.5)
    assert not p.applies_to("churn_risk", "casual", 0.49)
    assert not p.applies_to("support", "casual", 0.9)
    assert not p.applies_to("churn_risk", "loyal", 0.9)
    assert not p.model_copy(update={"status": "retired"}).applies_to("churn_risk", "casual", 0.9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "hug"}, "action 'hug' has no effect model; use one of"),
        ({"stage": "limbo"}, "journey_stage"),
        ({"segment": "vampires"}, "eligible_segments: unknown \\['vampires'\\]"),
        ({"lo": 20}, "expected_value_range must be"),
    ],
)
def test_a_bad_playbook_is_named_with_the_fix(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(DataFileError, match=message):
        load_playbooks(_write(tmp_path, **kwargs))


def test_an_unknown_playbook_id_lists_the_known_ones() -> None:
    with pytest.raises(InvalidArgumentError, match="unknown playbook 'PB_NOPE'; choose one of PB_ONB_001"):
        load_playbooks().get("PB_NOPE")


def test_a_playbook_id_written_twice_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path)
    text = path.read_text()
    path.write_text(text + text[text.index("  - playbook_id"):])
    with pytest.raises(DataFileError, match="playbook_id 'PB_X' appears twice"):
        load_playbooks(path)
