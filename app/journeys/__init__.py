"""Customer journeys, playbooks and the orchestrator that runs them (docs/closed_loop.md)."""
