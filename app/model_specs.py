"""Chat models by spec string: ``rules`` (offline CJ), ``rules:<defect>`` (the offline CJ with a
deliberate defect, for calibrating evaluators; see :mod:`app.policies.defects`), ``script``
(offline merchant), ``openai:<model>``, ``anthropic:<model>``, ``ollama:<model>``.

One registry serves CJ and the merchant; an unknown spec lists the known ones, and a missing
package or API key names the extra to install or the variable to set.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_core.language_models import BaseChatModel

from app.errors import InvalidArgumentError, UnknownNameError
from app.models import Persona, Scenario

if TYPE_CHECKING:
    from app.catalog import Catalog

__all__ = ["ModelSpec", "parse_spec", "make_cj_model", "make_merchant_model", "PROVIDER_SPECS"]


@dataclass(frozen=True)
class ModelSpec:
    """A parsed spec: ``kind`` (rules, script, openai, ...) and an optional ``variant`` after the colon."""

    kind: str
    variant: str | None

    def __str__(self) -> str:
        return self.kind if self.variant is None else f"{self.kind}:{self.variant}"


@dataclass(frozen=True)
class _Provider:
    module: str
    cls: str
    extra: str
    key_var: str | None


PROVIDER_SPECS: dict[str, _Provider] = {
    "openai": _Provider("langchain_openai", "ChatOpenAI", "openai", "OPENAI_API_KEY"),
    "anthropic": _Provider("langchain_anthropic", "ChatAnthropic", "anthropic", "ANTHROPIC_API_KEY"),
    "ollama": _Provider("langchain_ollama", "ChatOllama", "ollama", None),
}

_OFFLINE = {"rules": "cj", "script": "merchant"}


def parse_spec(spec: str) -> ModelSpec:
    """Split ``kind[:variant]`` and check the kind exists."""
    kind, _, variant = spec.strip().partition(":")
    if kind not in _OFFLINE and kind not in PROVIDER_SPECS:
        raise UnknownNameError("model spec", spec, [*_OFFLINE, *(f"{k}:<model>" for k in PROVIDER_SPECS)])
    if kind in PROVIDER_SPECS and not variant:
        raise InvalidArgumentError(f"model spec {spec!r} needs a model name, e.g. {kind}:<model>")
    return ModelSpec(kind, variant or None)


def _provider_model(spec: ModelSpec, temperature: float) -> BaseChatModel:
    p = PROVIDER_SPECS[spec.kind]
    try:
        module = importlib.import_module(p.module)
    except ImportError:
        raise InvalidArgumentError(
            f"model spec {spec} needs the {p.module} package; install it with: pip install -e '.[{p.extra}]'"
        ) from None
    if p.key_var and not os.environ.get(p.key_var):
        raise InvalidArgumentError(f"model spec {spec} needs an API key; set the {p.key_var} environment variable")
    factory: Callable[..., BaseChatModel] = getattr(module, p.cls)
    return factory(model=spec.variant, temperature=temperature)


def make_cj_model(spec: str, seed: int = 0, catalog: Catalog | None = None) -> BaseChatModel:
    """CJ's chat model for a spec (``rules`` by default; ``rules:<defect>`` for a defective variant).

    The offline models work from ``catalog``'s intents and templates (default: ``Catalog.default()``).
    """
    parsed = parse_spec(spec)
    if parsed.kind == "rules":
        if parsed.variant is not None:
            from app.policies.defects import make_defective_cj

            return make_defective_cj(parsed.variant, seed, catalog)
        from app.policies.rule_cj import RuleBasedCJ

        return RuleBasedCJ(seed=seed, catalog=catalog)
    if parsed.kind == "script":
        raise InvalidArgumentError("'script' is the offline merchant; CJ's offline model is 'rules'")
    return _provider_model(parsed, temperature=0.0)


def make_merchant_model(
    spec: str, persona: Persona, scenario: Scenario, seed: int = 0, catalog: Catalog | None = None
) -> BaseChatModel:
    """The simulated merchant's chat model for a spec (``script`` by default; its phrasing from ``catalog``)."""
    parsed = parse_spec(spec)
    if parsed.kind == "script":
        from app.policies.scripted_merchant import ScriptedMerchant

        return ScriptedMerchant(persona=persona, scenario=scenario, seed=seed, catalog=catalog)
    if parsed.kind == "rules":
        raise InvalidArgumentError("'rules' is the offline CJ; the offline merchant is 'script'")
    return _provider_model(parsed, temperature=0.7)
