"""The DataAgent's public path; it lives in :mod:`app.providers.data_agent`, beside the production provider."""

from app.providers.data_agent import DataAgent, resolve_context

__all__ = ["DataAgent", "resolve_context"]
