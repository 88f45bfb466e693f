"""Scenario conversations as pytest tests, and the ``cjsim`` pytest plugin.

:func:`check_conversation` runs and scores one conversation and returns a
:class:`ConversationCheck` to assert on; :func:`scenario_cases` parametrizes a test over
scenarios, merchants, workflows and seeds. The plugin (:mod:`app.testing.pytest_plugin`,
registered as a ``pytest11`` entry point) adds the ``cjsim`` fixture.

Names are loaded on first use: pytest imports the plugin in every session, and a session
that never runs a conversation should not pay for importing the simulator.

Example:
    >>> from app.testing import check_conversation
    >>> check_conversation("churn_spike", "sarah_chen", "crisis_response").assert_passed()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

__all__ = ["ConversationCheck", "check_conversation", "scenario_cases"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from app.testing import checks

        return getattr(checks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
