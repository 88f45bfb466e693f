"""Offline conversation throughput, and our per-step cost against a bare LangGraph loop.

The bare loop has the same state schema, a ToolNode and trivial merchant/cj nodes, and runs
the same number of graph steps as our conversations; the ratio of per-step costs isolates
what our nodes (models, routing, stage tracking, views) add to LangGraph itself.

Usage: python benchmarks/bench_conversation.py [--conversations 40]
"""

from __future__ import annotations

import argparse
import time

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import ToolNode

from app.agents.data_agent import DataAgent
from app.graph import ConversationState, build_graph
from app.simulation import RECURSION_LIMIT, RunConfig, _context, _initial_state


@tool
def noop() -> str:
    """Does nothing."""
    return "ok"


def bare_graph():
    def merchant(state):
        return {"messages": [HumanMessage("question")]}

    def cj(state):
        last = state["messages"][-1]
        if isinstance(last, HumanMessage):
            return {"messages": [AIMessage("", tool_calls=[{"id": f"c{len(state['messages'])}", "name": "noop", "args": {}}])]}
        return {"messages": [AIMessage("answer")]}

    def route(state):
        last = state["messages"][-1]
        if last.tool_calls:
            return "tools"
        return END if sum(isinstance(m, HumanMessage) for m in state["messages"]) >= state["merchant_turns"] else "merchant"

    g = StateGraph(ConversationState)
    g.add_node("merchant", merchant)
    g.add_node("cj", cj)
    g.add_node("tools", ToolNode([noop]))
    g.add_edge(START, "merchant")
    g.add_edge("merchant", "cj")
    g.add_conditional_edges("cj", route, ["tools", "merchant", END])
    g.add_edge("tools", "cj")
    return g.compile()


def count_steps(graph, state, config, **kw) -> int:
    return sum(1 for _ in graph.stream(state, config, stream_mode="updates", **kw))


def measure_ours(workflow: str, n: int, provider: DataAgent) -> tuple[float, int]:
    graph = build_graph()
    config = {"recursion_limit": RECURSION_LIMIT}
    steps = 0
    t0 = time.perf_counter()
    for seed in range(n):
        cfg = RunConfig(scenario="growth_stall", merchant="marcus_thompson", workflow=workflow, seed=seed)
        ctx, _ = _context(cfg, provider, None, None, human=False)
        steps += count_steps(graph, _initial_state(cfg), config, context=ctx)
    return time.perf_counter() - t0, steps


def measure_bare(total_steps: int) -> tuple[float, int]:
    graph = bare_graph()
    steps = 0
    t0 = time.perf_counter()
    while steps < total_steps:
        # 3 turns -> 1 + 3 * 3 steps per run
        steps += count_steps(graph, {"messages": [], "merchant_turns": 3}, {"recursion_limit": RECURSION_LIMIT})
    return time.perf_counter() - t0, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=40)
    args = parser.parse_args()
    provider = DataAgent.create("growth_stall", "marcus_thompson", seed=0)
    t0 = time.perf_counter()
    DataAgent.create("growth_stall", "marcus_thompson", seed=1)
    world_s = time.perf_counter() - t0
    print("| workflow | conversations/s (warm world) | steps/conversation | our ms/step | bare ms/step | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for workflow in ("daily_briefing", "crisis_response"):
        measure_ours(workflow, 3, provider)  # warm caches and imports
        ours_s, steps = measure_ours(workflow, args.conversations, provider)
        bare_s, bare_steps = measure_bare(steps)
        ours_ms, bare_ms = ours_s / steps * 1000, bare_s / bare_steps * 1000
        print(
            f"| {workflow} | {args.conversations / ours_s:.1f} | {steps / args.conversations:.1f} | "
            f"{ours_ms:.3f} | {bare_ms:.3f} | {ours_ms / bare_ms:.2f} |"
        )
    print(f"\nGenerating and loading a fresh world adds {world_s * 1000:.0f} ms per conversation when each run gets its own world.")


if __name__ == "__main__":
    main()
