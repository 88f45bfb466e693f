"""Transcripts built by hand for evaluator tests: a merchant question, tool results, CJ's reply."""

from __future__ import annotations

from typing import Any

from app.transcript import MessageRecord, ToolCallRecord, Transcript


def trend(current: float, previous: float) -> dict[str, Any]:
    change = round((current - previous) / previous * 100, 1)
    return {"current": current, "previous": previous, "change_pct": change, "direction": "up" if change > 0 else "down"}


FINANCIAL = {
    "time_range": "30d",
    "mrr": trend(45210.0, 44100.0),
    "active_subscribers": trend(480, 468),
    "churn_rate": trend(0.0523, 0.0498),
    "new_subscribers": trend(191, 185),
    "cac": trend(46.45, 34.09),
    "top_cancel_reasons": [{"reason": "too_expensive", "count": 54}],
}
TICKETS = {
    "time_range": "30d",
    "category": None,
    "created": trend(368, 108),
    "avg_first_response_hours": trend(6.94, 4.1),
    "by_category": [{"category": "shipping_delay", "count": 119, "share": 0.3234}],
}
CUSTOMERS = {
    "filter": "at_risk",
    "total": 97,
    "customers": [{"customer_id": "C000882", "name": "Donna Harris", "risk_score": 0.96, "lifetime_value": 174.0}],
}


class Chat:
    """Builds a transcript turn by turn; tool results get their call and artifact."""

    def __init__(
        self, workflow: str = "weekly_review", stress: str = "moderate", scenario: str = "growth_stall"
    ) -> None:
        self.messages: list[MessageRecord] = []
        self.workflow = workflow
        self.stress = stress
        self.scenario = scenario

    def _ts(self) -> str:
        return f"2025-03-01T09:{len(self.messages):02d}:00"

    def merchant(self, text: str) -> Chat:
        self.messages.append(MessageRecord(role="merchant", content=text, timestamp=self._ts()))
        return self

    def cj(self, text: str) -> Chat:
        self.messages.append(MessageRecord(role="cj", content=text, timestamp=self._ts()))
        return self

    def tool(self, name: str, args: dict[str, Any], artifact: Any, status: str = "success") -> Chat:
        cid = f"call_{len(self.messages)}"
        self.messages.append(
            MessageRecord(
                role="cj", content="", timestamp=self._ts(), tool_calls=[ToolCallRecord(id=cid, name=name, args=args)]
            )
        )
        self.messages.append(
            MessageRecord(
                role="tool",
                content="Error: boom" if status == "error" else "result",
                timestamp=self._ts(),
                tool_call_id=cid,
                name=name,
                status=status,
                artifact=artifact,
            )
        )
        return self

    def build(self) -> Transcript:
        return Transcript(
            meta={},
            scenario=self.scenario,
            merchant="marcus_thompson",
            workflow=self.workflow,
            seed=0,
            merchant_context={"business_stage": "growth", "stress_level": self.stress},
            messages=self.messages,
            workflow_path=[{"workflow": self.workflow, "at_message": 0, "trigger": None}],
            stages_reached=[],
            termination_reason="merchant_done",
            usage={},
        )


def fin_chat(reply: str, question: str = "How is revenue looking this month?") -> Transcript:
    return Chat().merchant(question).tool("get_financial_metrics", {"time_range": "30d"}, FINANCIAL).cj(reply).build()
