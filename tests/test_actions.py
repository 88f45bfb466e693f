"""Actions: approval in the graph (policy, model, human), the audit trail, idempotency, the operations store."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from pathlib import Path

import pytest

from app.errors import ActionDeclinedError, ActionFailedError, InvalidArgumentError, ProviderError
from app.providers.data_agent import DataAgent
from app.scenarios import get_persona
from app.simulation import HumanConversation, RunConfig, run_conversation
from app.storage.ops import OPS_MIGRATIONS, OpsStore
from app.tools import call_tool
from app.views import ACTIONS
from app.views.actions import execute_action
from tests.fakes import ScriptedChatModel

NOTE = "Save a note: call Sarah Chen about the late boxes"
DAY = dt.date(2025, 3, 1)


def _agent() -> DataAgent:
    return DataAgent.create("growth_stall", "marcus_thompson", seed=0)


def _merchant(*lines: str) -> ScriptedChatModel:
    return ScriptedChatModel(replies=[*lines, "Thanks, that's all. [[DONE]]"])


def _run(agent: DataAgent, merchant_model, persona: str = "marcus_thompson"):
    cfg = RunConfig(scenario="growth_stall", merchant=persona, workflow="ad_hoc_support", seed=0)
    return run_conversation(cfg, provider=agent, merchant_model=merchant_model)


# --------------------------------------------------------------------------- approval in conversations


def test_an_approved_action_runs_once_with_its_audit_row() -> None:
    agent = _agent()

    class Approver(ScriptedChatModel):
        def decide_approval(self, request: dict) -> str:
            assert request["action"] == "save_note" and "Sarah" in request["args"]["note"]
            return "approved"

    t = _run(agent, Approver(replies=[NOTE, "Thanks, that's all. [[DONE]]"]))
    tool_msgs = [m for m in t.messages if m.role == "tool" and m.name == "save_note"]
    assert len(tool_msgs) == 1 and tool_msgs[0].status != "error"
    assert "Saved note #1" in tool_msgs[0].content
    (row,) = agent.ops.audit()
    assert (row.action, row.status, row.approval, row.actor) == ("save_note", "succeeded", "approved", "cj")
    assert row.requested_at == dt.datetime.combine(agent.clock, dt.time(9, 0))  # simulation clock
    notes = agent.get_view("get_notes")
    assert notes.total == 1 and "Sarah" in notes.notes[0].note


def test_a_declined_action_is_recorded_and_does_nothing() -> None:
    agent = _agent()

    class Decliner(ScriptedChatModel):
        def decide_approval(self, request: dict) -> str:
            return "declined"

    t = _run(agent, Decliner(replies=[NOTE, "Thanks, that's all. [[DONE]]"]))
    (msg,) = [m for m in t.messages if m.role == "tool" and m.name == "save_note"]
    assert msg.status == "error" and msg.content.startswith("Not done")
    assert t.termination_reason == "merchant_done"
    (row,) = agent.ops.audit()
    assert (row.status, row.approval) == ("declined", "declined")
    assert agent.get_view("get_notes").total == 0


def test_the_scripted_merchant_decides_by_persona() -> None:
    persona = get_persona("marcus_thompson")
    assert persona.approvals.decision("save_note") == "approved"
    declining = persona.model_copy(update={"approvals": persona.approvals.model_copy(update={"default": "decline"})})
    assert declining.approvals.decision("save_note") == "declined"


def test_a_chat_model_merchant_is_asked_and_only_a_clear_yes_approves() -> None:
    for answer, status in (("APPROVE", "succeeded"), ("Hmm, not sure", "declined")):
        agent = _agent()
        model = ScriptedChatModel(replies=[NOTE, answer, "Thanks, that's all. [[DONE]]"])
        _run(agent, model)
        assert [r.status for r in agent.ops.audit()] == [status]
        assert "APPROVE or DECLINE" in model.calls[1][-1].content


@pytest.mark.parametrize("approve", [True, False])
def test_a_human_resumes_the_paused_graph(approve: bool) -> None:
    agent = _agent()
    chat = HumanConversation(RunConfig(workflow="ad_hoc_support"), provider=agent)
    chat.start()
    chat.send(NOTE)
    request = chat.pending_approval
    assert request is not None and request["action"] == "save_note"
    with pytest.raises(InvalidArgumentError, match="waiting for an approval"):
        chat.send("something else")
    reply = chat.decide(approve)
    assert chat.pending_approval is None
    (row,) = agent.ops.audit()
    assert row.status == ("succeeded" if approve else "declined")
    assert ("note #1" in reply.lower()) == approve


# --------------------------------------------------------------------------- the executor


def test_a_retried_action_never_runs_twice() -> None:
    store = OpsStore.in_memory()
    first = execute_action(store, "save_note", {"note": "x"}, day=DAY, approval="approved")
    again = execute_action(store, "save_note", {"note": "x"}, day=DAY, approval="approved")
    assert (first.status, again.status) == ("succeeded", "duplicate")
    assert again.result == first.result
    rows = store.audit()
    assert [r.status for r in rows] == ["succeeded", "duplicate"] and rows[1].original_audit_id == rows[0].audit_id
    other_day = execute_action(store, "save_note", {"note": "x"}, day=DAY + dt.timedelta(days=1), approval="approved")
    assert other_day.status == "succeeded"


def test_a_failing_action_rolls_back_and_is_audited(monkeypatch: pytest.MonkeyPatch) -> None:
    store = OpsStore.in_memory()
    spec = ACTIONS["save_note"]

    def boom(ctx, args):  # writes, then fails: the write must not survive
        spec.run(ctx, args)
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(ACTIONS, "save_note", dataclasses.replace(spec, run=boom))
    with pytest.raises(ActionFailedError, match="disk on fire"):
        execute_action(store, "save_note", {"note": "x"}, day=DAY, approval="approved")
    (row,) = store.audit()
    assert (row.status, row.error) == ("failed", "RuntimeError: disk on fire")
    monkeypatch.setitem(ACTIONS, "save_note", spec)
    assert execute_action(store, "save_note", {"note": "x"}, day=DAY, approval="approved").status == "succeeded"
    assert store.read(lambda c: c.exec_driver_sql("SELECT count(*) FROM ops_notes").scalar()) == 1


def test_approval_is_required_and_bad_arguments_write_nothing() -> None:
    store = OpsStore.in_memory()
    with pytest.raises(ActionDeclinedError, match="needs approval"):
        execute_action(store, "save_note", {"note": "x"}, day=DAY)
    assert [r.status for r in store.audit()] == ["declined"]
    with pytest.raises(InvalidArgumentError, match="note"):
        execute_action(store, "save_note", {"text": "x"}, day=DAY, approval="approved")
    assert len(store.audit()) == 1


# --------------------------------------------------------------------------- the operations store


def test_production_actions_write_the_ops_store_never_the_source(tmp_path: Path) -> None:
    from app.providers.loading import load_world
    from app.providers.production import ProductionDataProvider
    from app.storage.admin import init_database

    source = tmp_path / "shop.db"
    init_database(f"sqlite:///{source}")
    load_world(f"sqlite:///{source}", "growth_stall", "marcus_thompson", seed=0)
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    read_only = ProductionDataProvider(f"sqlite:///{source}")
    with pytest.raises(InvalidArgumentError, match="operations store"):
        call_tool(read_only, "save_note", {"note": "x"}, approval="approved")
    with pytest.raises(ProviderError, match="database of its own"):
        ProductionDataProvider(f"sqlite:///{source}", ops_url=f"sqlite:///{source}")
    provider = ProductionDataProvider(f"sqlite:///{source}", ops_url=f"sqlite:///{tmp_path / 'ops.db'}")
    text, artifact = call_tool(provider, "save_note", {"note": "Restock the grill kits"}, approval="approved")
    assert artifact["status"] == "succeeded" and "Restock" in text
    assert provider.get_view("get_notes").total == 1
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before
    reopened = OpsStore.from_url(f"sqlite:///{tmp_path / 'ops.db'}")  # migrations are idempotent
    assert reopened.version == OPS_MIGRATIONS[-1].version and len(reopened.audit()) == 1


def test_an_unwritable_ops_store_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ProviderError):
        OpsStore.from_url(f"sqlite:///{blocker / 'ops.db'}")


def test_an_action_next_to_an_unreadable_tool_call_still_asks_for_approval() -> None:
    from langchain_core.messages import AIMessage

    agent = _agent()
    asked: list[str] = []

    class Approver(ScriptedChatModel):
        def decide_approval(self, request: dict) -> str:
            asked.append(request["action"])
            return "approved"

    both = AIMessage(
        content="",
        tool_calls=[{"id": "n1", "name": "save_note", "args": {"note": "call Sarah"}, "type": "tool_call"}],
        invalid_tool_calls=[{"id": "bad", "name": "get_notes", "args": "{", "error": "x", "type": "invalid_tool_call"}],
    )
    cj = ScriptedChatModel(replies=[both, "Saved it."])
    cfg = RunConfig(scenario="growth_stall", merchant="marcus_thompson", workflow="ad_hoc_support", seed=0)
    t = run_conversation(cfg, provider=agent, cj_model=cj, merchant_model=Approver(replies=["Note that.", "ok [DONE]"]))
    assert asked == ["save_note"]
    by_id = {m.tool_call_id: m for m in t.messages if m.role == "tool"}
    assert by_id["n1"].status != "error" and by_id["bad"].status == "error"
    assert agent.get_view("get_notes").total == 1
