"""Evaluating conversations from Python, offline: a clean CJ against a deliberately broken one.

The same scenario runs twice on one shared world: once with the rule-based CJ, once with the
``rules:hallucinate_numbers`` defect profile. Every deterministic evaluator scores both, and the
grounding details show which numbers the broken CJ made up.

Run: python examples/evaluation_demo.py
"""

from __future__ import annotations

from app.agents.data_agent import DataAgent
from app.evaluation import DETERMINISTIC_KEYS, default_evaluators, evaluate
from app.simulation import RunConfig, run_conversation


def main() -> None:
    world = DataAgent.create("churn_spike", "sarah_chen", seed=3)
    evaluators = default_evaluators(keys=DETERMINISTIC_KEYS)
    for cj_model in ("rules", "rules:hallucinate_numbers"):
        cfg = RunConfig(scenario="churn_spike", merchant="sarah_chen", workflow="crisis_response", seed=3, cj_model=cj_model)
        transcript = run_conversation(cfg, provider=world)
        print(f"\n== CJ model {cj_model}: {len(transcript.messages)} messages, ended {transcript.termination_reason}")
        results = {r.key: r for r in evaluate(transcript, evaluators)}
        for result in results.values():
            verdict = "pass" if result.passed else "FAIL"
            print(f"  {result.key:<19} {result.score:.2f} {verdict}  {result.comment[:90]}")
        grounding = results["grounding"]
        made_up = [c["text"] for c in grounding.details["claims"] if c["status"] == "ungrounded"]
        if made_up:
            print(f"  numbers no tool returned: {', '.join(made_up[:8])}")


if __name__ == "__main__":
    main()
