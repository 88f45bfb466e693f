"""The data architecture end to end, offline: a scenario's world, CJ's tools and a conversation.

Run: python examples/data_architecture_demo.py
"""

from __future__ import annotations

from app.agents.cj_agent import create_cj_agent
from app.agents.simple_conversation_manager import SimpleConversationManager


def main() -> None:
    manager = SimpleConversationManager(seed=7)

    # 1. A conversation with a workflow; the DataAgent builds the growth-stall world behind it.
    conversation = manager.create_conversation(
        scenario_name="growth_stall",
        merchant_name="Marcus Thompson",
        workflow="daily_briefing",
        merchant_context={"business_stage": "growth", "stress_level": "high"},
    )

    # 2. CJ gets exactly the tools its workflow declares.
    context = manager.get_data_context()
    cj = create_cj_agent(
        workflow_name="daily_briefing",
        merchant_context=context["merchant_context"],
        scenario_name="growth_stall",
        merchant_name="marcus_thompson",
    )
    print(f"CJ's tools in daily_briefing: {', '.join(cj.tool_names)}")

    # 3. The same views CJ's tools read, straight from the provider.
    agent = conversation.data_agent
    print(agent.daily_briefing().to_text())
    print(agent.customer_segment("at_risk").to_text())

    # 4. Every number in the conversation comes from those views.
    transcript = conversation.run(cj=cj)
    print(transcript.to_text())
    print(f"stages reached: {[s['stage'] for s in transcript.stages_reached]}")


if __name__ == "__main__":
    main()
