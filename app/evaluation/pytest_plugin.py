"""A pytest plugin: the ``cjsim`` fixture and options to choose CJ's model for a whole suite.

Installed with the package (entry point ``pytest11``), so a user's tests can write::

    def test_briefing_is_grounded(cjsim):
        check = cjsim.run("growth_stall", "marcus_thompson", "daily_briefing")
        check.assert_passed("grounding", "tool_use")

and run the same tests against another model with ``pytest --cjsim-cj-model openai:gpt-4o-mini``.
Worlds are generated once per (scenario, merchant, seed) and shared by the session's tests.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import pytest

__all__ = ["CJSimFixture"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cjsim", "CJ Simulator conversations")
    group.addoption("--cjsim-cj-model", default="rules", help="CJ model spec for the cjsim fixture (default: rules).")
    group.addoption(
        "--cjsim-merchant-model", default="script", help="Merchant model spec for the cjsim fixture (default: script)."
    )


class CJSimFixture:
    """What the ``cjsim`` fixture gives a test: run a scored conversation on a shared world.

    ``catalog`` is the data folder of every run (default: ``Catalog.default()``).
    """

    def __init__(self, cj_model: str, merchant_model: str, catalog: Any = None) -> None:
        from app.catalog import Catalog

        self.cj_model = cj_model
        self.merchant_model = merchant_model
        self.catalog = catalog or Catalog.default()

    @staticmethod
    @functools.cache
    def _world(catalog: Any, scenario: str, merchant: str, seed: int) -> Any:
        from app.providers.data_agent import DataAgent

        return DataAgent.create(scenario, merchant, seed=seed, catalog=catalog)

    def run(
        self,
        scenario: str,
        merchant: str,
        workflow: str,
        *,
        seed: int = 0,
        keys: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run and score one conversation; returns a :class:`~app.evaluation.testing.ConversationCheck`.

        Extra keyword arguments go to :func:`~app.evaluation.testing.check_conversation`.
        """
        from app.evaluation.testing import check_conversation

        kwargs.setdefault("cj_model", self.cj_model)
        kwargs.setdefault("merchant_model", self.merchant_model)
        kwargs.setdefault("catalog", self.catalog)
        if kwargs.get("provider") is None:
            kwargs["provider"] = self._world(kwargs["catalog"], scenario, merchant, seed)
        return check_conversation(scenario, merchant, workflow, seed=seed, keys=keys, **kwargs)


@pytest.fixture
def cjsim(request: pytest.FixtureRequest) -> CJSimFixture:
    """Runs scored CJ conversations; the models come from ``--cjsim-cj-model`` / ``--cjsim-merchant-model``."""
    return CJSimFixture(
        request.config.getoption("--cjsim-cj-model"), request.config.getoption("--cjsim-merchant-model")
    )
