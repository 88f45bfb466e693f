"""Chat models by spec string: ``rules`` (offline CJ), ``rules:<defect>`` (the offline CJ with a
deliberate defect, for calibrating evaluators; see :mod:`app.policies.defects`), ``script``
(offline merchant), ``replay:<file>`` (recorded replies, an offline judge; see
:mod:`app.policies.replay`), ``openai:<model>``, ``anthropic:<model>``, ``ollama:<model>``.

A provider spec may carry options after ``?``, like a URL's query string:
``openai:gpt-4o-mini?timeout=20&base_url=http://127.0.0.1:8000/v1`` sets the request timeout in
seconds and the server (any OpenAI-compatible endpoint). Provider models always have a request
timeout (the spec's, else the caller's, else :data:`DEFAULT_TIMEOUT_S`) and their client
library's own retries are off: retrying is the project's one policy (:mod:`app.retry`).

One registry serves CJ, the merchant and the judge; an unknown spec lists the known ones, and a
missing package or API key names the extra to install or the variable to set.

Example:
    >>> spec = parse_spec("openai:gpt-4o-mini?timeout=20")
    >>> spec.kind, spec.variant, spec.timeout
    ('openai', 'gpt-4o-mini', 20.0)
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from langchain_core.language_models import BaseChatModel

from app.errors import InvalidArgumentError, UnknownNameError
from app.models import Persona, Scenario

if TYPE_CHECKING:
    from app.catalog import Catalog

__all__ = [
    "ModelSpec",
    "parse_spec",
    "is_network_spec",
    "make_chat_model",
    "make_cj_model",
    "make_merchant_model",
    "PROVIDER_SPECS",
    "DEFAULT_TIMEOUT_S",
    "SPEC_OPTIONS",
    "check_timeout",
]

DEFAULT_TIMEOUT_S = 60.0
"""Seconds a provider model request may take when neither the spec nor the caller sets a timeout."""

_MAX_TIMEOUT_S = 3600.0

SPEC_OPTIONS = ("timeout", "base_url")
"""Options a provider spec accepts after ``?``."""


@dataclass(frozen=True)
class ModelSpec:
    """A parsed spec: ``kind`` (rules, script, openai, ...), an optional ``variant`` after the colon,
    and a provider model's options (``timeout`` in seconds, ``base_url`` of the server)."""

    kind: str
    variant: str | None
    timeout: float | None = None
    base_url: str | None = None

    def __str__(self) -> str:
        head = self.kind if self.variant is None else f"{self.kind}:{self.variant}"
        timeout = None if self.timeout is None else f"{self.timeout:g}"
        options = {k: v for k, v in (("timeout", timeout), ("base_url", self.base_url)) if v is not None}
        return f"{head}?{urlencode(options, safe=':/')}" if options else head


def _sdk_style(timeout: float, base_url: str | None) -> dict[str, Any]:
    # the OpenAI and Anthropic clients take the same names; max_retries=0: the SDK would otherwise retry under the project's retries (3 x 5 requests per call)
    return {"timeout": timeout, "max_retries": 0, **({"base_url": base_url} if base_url else {})}


def _ollama_client_style(timeout: float, base_url: str | None) -> dict[str, Any]:
    # the Ollama client does not retry; its httpx client takes the timeout
    return {"client_kwargs": {"timeout": timeout}, **({"base_url": base_url} if base_url else {})}


@dataclass(frozen=True)
class _Provider:
    module: str
    cls: str
    extra: str
    key_var: str | None
    client_options: Callable[[float, str | None], dict[str, Any]]


PROVIDER_SPECS: dict[str, _Provider] = {
    "openai": _Provider("langchain_openai", "ChatOpenAI", "openai", "OPENAI_API_KEY", _sdk_style),
    "anthropic": _Provider("langchain_anthropic", "ChatAnthropic", "anthropic", "ANTHROPIC_API_KEY", _sdk_style),
    "ollama": _Provider("langchain_ollama", "ChatOllama", "ollama", None, _ollama_client_style),
}

_OFFLINE = {"rules": "cj", "script": "merchant", "replay": "judge"}
_ROLE = {"rules": "CJ", "script": "merchant", "replay": "judge"}


def check_timeout(value: float, what: str = "the model timeout") -> float:
    """``value`` if it is a usable request timeout in seconds, else an error naming ``what``."""
    if not (math.isfinite(value) and 0 < value <= _MAX_TIMEOUT_S):
        raise InvalidArgumentError(f"{what} must be more than 0 and at most {_MAX_TIMEOUT_S:g} seconds, got {value:g}")
    return value


def _options(spec: str, query: str) -> dict[str, Any]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InvalidArgumentError(
            f"model spec {spec!r} has malformed options; write them as ?timeout=30&base_url=http://host:port/v1"
        ) from None
    options: dict[str, Any] = {}
    for key, value in pairs:
        if key not in SPEC_OPTIONS:
            raise UnknownNameError("model spec option", key, SPEC_OPTIONS)
        if key in options:
            raise InvalidArgumentError(f"model spec {spec!r} gives the option {key!r} twice")
        if key == "timeout":
            try:
                seconds = float(value)
            except ValueError:
                raise InvalidArgumentError(f"the timeout option must be a number of seconds, got {value!r}") from None
            options[key] = check_timeout(seconds, "the timeout option")
        else:
            if not value.startswith(("http://", "https://")):
                raise InvalidArgumentError(f"the base_url option must be an http:// or https:// URL, got {value!r}")
            options[key] = value
    return options


def parse_spec(spec: str) -> ModelSpec:
    """Split ``kind[:variant][?options]`` and check the kind and options exist."""
    head, has_options, query = spec.strip().partition("?")
    kind, _, variant = head.partition(":")
    if kind not in _OFFLINE and kind not in PROVIDER_SPECS:
        raise UnknownNameError("model spec", spec, [*_OFFLINE, *(f"{k}:<model>" for k in PROVIDER_SPECS)])
    if kind in PROVIDER_SPECS and not variant:
        raise InvalidArgumentError(f"model spec {spec!r} needs a model name, e.g. {kind}:<model>")
    if kind == "replay" and not variant:
        raise InvalidArgumentError(f"model spec {spec!r} needs a file of replies, e.g. replay:verdicts.yaml")
    if has_options and kind in _OFFLINE:
        raise InvalidArgumentError(f"model spec {spec!r}: options after '?' apply only to provider models")
    return ModelSpec(kind, variant or None, **_options(spec, query) if has_options else {})


def is_network_spec(spec: str | None) -> bool:
    """Whether a model spec names a hosted or local-server model (``openai:``, ``anthropic:``, ``ollama:``)."""
    return spec is not None and parse_spec(spec).kind in PROVIDER_SPECS


def make_chat_model(spec: str, *, temperature: float = 0.0, timeout: float | None = None) -> BaseChatModel:
    """A provider chat model for ``spec`` with a request timeout and its client's own retries off.

    Args:
        spec: a provider spec such as ``openai:gpt-4o-mini`` (offline specs are refused).
        temperature: sampling temperature.
        timeout: seconds per request when the spec sets none (default :data:`DEFAULT_TIMEOUT_S`).

    Raises:
        InvalidArgumentError: an offline spec, a missing package or API key, a bad timeout.
    """
    parsed = parse_spec(spec)
    if parsed.kind not in PROVIDER_SPECS:
        raise InvalidArgumentError(f"{spec!r} is an offline policy; give a provider model such as openai:gpt-4o-mini")
    return _provider_model(parsed, temperature, timeout)


def _provider_model(spec: ModelSpec, temperature: float, timeout: float | None) -> BaseChatModel:
    p = PROVIDER_SPECS[spec.kind]
    if timeout is not None:
        check_timeout(float(timeout), "the model timeout")
    seconds = spec.timeout or timeout or DEFAULT_TIMEOUT_S
    try:
        module = importlib.import_module(p.module)
    except ImportError:
        raise InvalidArgumentError(
            f"model spec {spec} needs the {p.module} package; install it with: pip install -e '.[{p.extra}]'"
        ) from None
    if p.key_var and not os.environ.get(p.key_var):
        raise InvalidArgumentError(
            f"model spec {spec} needs an API key; set the {p.key_var} environment variable "
            "(any value for a local server that checks none)"
        )
    factory: Callable[..., BaseChatModel] = getattr(module, p.cls)
    return factory(model=spec.variant, temperature=temperature, **p.client_options(seconds, spec.base_url))


def make_cj_model(
    spec: str, seed: int = 0, catalog: Catalog | None = None, *, timeout: float | None = None
) -> BaseChatModel:
    """CJ's chat model for a spec (``rules`` by default; ``rules:<defect>`` for a defective variant).

    The offline models work from ``catalog``'s intents and templates (default: ``Catalog.default()``).
    ``timeout`` applies to provider models whose spec sets none (see :func:`make_chat_model`).
    """
    parsed = parse_spec(spec)
    if parsed.kind == "rules":
        if parsed.variant is not None:
            from app.policies.defects import make_defective_cj

            return make_defective_cj(parsed.variant, seed, catalog)
        from app.policies.rule_cj import RuleBasedCJ

        return RuleBasedCJ(seed=seed, catalog=catalog)
    if parsed.kind in ("script", "replay"):
        raise InvalidArgumentError(f"{spec!r} is the offline {_ROLE[parsed.kind]}; CJ's offline model is 'rules'")
    return _provider_model(parsed, 0.0, timeout)


def make_merchant_model(
    spec: str,
    persona: Persona,
    scenario: Scenario,
    seed: int = 0,
    catalog: Catalog | None = None,
    *,
    timeout: float | None = None,
    provider: Any = None,
) -> BaseChatModel:
    """The simulated merchant's chat model for a spec (``script`` by default; its phrasing from ``catalog``).

    ``provider`` is the data the conversation runs on: the scripted merchant reads the alert it gives
    feedback on, and the world's truth about it, there.
    """
    parsed = parse_spec(spec)
    if parsed.kind == "script":
        from app.policies.scripted_merchant import ScriptedMerchant

        return ScriptedMerchant(persona=persona, scenario=scenario, seed=seed, catalog=catalog, provider=provider)
    if parsed.kind in ("rules", "replay"):
        raise InvalidArgumentError(f"{spec!r} is the offline {_ROLE[parsed.kind]}; the offline merchant is 'script'")
    return _provider_model(parsed, 0.7, timeout)
