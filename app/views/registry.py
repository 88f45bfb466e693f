"""The one registry of CJ's capabilities: every data view and every action, each declared once.

A :class:`ViewSpec` is a pure read at a date; an :class:`ActionSpec` writes to the operations store
(or calls out) and leaves an audit row. Each declaration carries everything the rest of the
product derives from it: the name, the argument and result models, the description and usage
guidance a model reads, the function that computes it, the tool name and example arguments.
Tools (:mod:`app.tools`), the ``DataProvider`` methods, ``cjsim data`` / ``cjsim act`` and
``cjsim list views``, and the JSON Schemas (:func:`json_schemas`) are all built from here.

Adding a capability is one module that defines its models and function and calls
:func:`register`, plus one line importing that module in :mod:`app.views` (docs/architecture.md
walks through it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from app.errors import InvalidArgumentError, UnknownNameError

if TYPE_CHECKING:
    from app.views.base import ViewArgs
    from app.views.common import ViewContext

__all__ = [
    "ViewSpec",
    "ActionSpec",
    "Capability",
    "CapabilitySpec",
    "register",
    "VIEWS",
    "ACTIONS",
    "CAPABILITIES",
    "view_spec",
    "action_spec",
    "capability",
    "by_tool",
    "tool_names",
    "requires_approval",
    "json_schemas",
    "invalid_arguments",
]

A = TypeVar("A", bound="ViewArgs")
R = TypeVar("R", bound=BaseModel)


def invalid_arguments(name: str, kind: str, model: type[BaseModel], exc: ValidationError) -> InvalidArgumentError:
    """One message naming the capability, each bad argument and the valid arguments."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        problems.append(f"{where}: {'unknown argument' if err['type'] == 'extra_forbidden' else err['msg']}")
    valid = ", ".join(model.model_fields) or "none"
    return InvalidArgumentError(f"bad arguments for {kind} {name!r}: {'; '.join(problems)} (arguments: {valid})")


@dataclass(frozen=True, kw_only=True)
class CapabilitySpec(Generic[A, R]):
    """What views and actions both declare (see :class:`ViewSpec` and :class:`ActionSpec`)."""

    name: str
    args: type[A]
    result: type[R]
    description: str
    """One line: what it answers or does."""
    tool: str
    """The tool name a model calls."""
    guidance: str
    """When to use it, written for the model."""
    examples: tuple[dict[str, Any], ...] = ({},)

    kind = "capability"

    def parse_args(self, raw: Mapping[str, Any]) -> A:
        """Validate raw arguments; errors name the capability, the argument and the valid ones."""
        try:
            return self.args.model_validate(dict(raw))
        except ValidationError as exc:
            raise invalid_arguments(self.name, self.kind, self.args, exc) from None

    @property
    def tool_description(self) -> str:
        """What the model reads about the tool: the description and the guidance."""
        return f"{self.description} {self.guidance}"

    def input_schema(self) -> dict[str, Any]:
        """JSON Schema of the arguments (what a tool, an MCP client or an editor validates)."""
        return self.args.model_json_schema()


@dataclass(frozen=True, kw_only=True)
class ViewSpec(CapabilitySpec[A, R]):
    """A data view: a pure read at a date, computed by ``build`` with the shared SQL queries."""

    build: Callable[[ViewContext, A], R]
    cacheable: bool = True
    """False for views of data that actions change (the operations store): never served from a cache."""

    kind = "view"


@dataclass(frozen=True, kw_only=True)
class ActionSpec(CapabilitySpec[A, R]):
    """An action: a declared side effect on the operations store, audited and idempotent.

    ``run`` performs it given an :class:`~app.actions.ActionContext`. ``requires_approval``
    pauses a conversation for the merchant's yes or no before it runs. ``idempotency_args``
    names the arguments that identify one execution (all of them when empty): the same
    action with the same key on the same day runs once, and a retry returns the first result.
    """

    run: Callable[[Any, A], R]
    side_effect: str = ""
    requires_approval: bool = False
    idempotency_args: tuple[str, ...] = ()

    kind = "action"

    def idempotency_key(self, args: BaseModel) -> str:
        """Canonical JSON of the identifying arguments."""
        data = args.model_dump(mode="json")
        if self.idempotency_args:
            data = {k: data[k] for k in self.idempotency_args}
        return json.dumps(data, sort_keys=True, separators=(",", ":"))


Capability = ViewSpec[Any, Any] | ActionSpec[Any, Any]

VIEWS: dict[str, ViewSpec[Any, Any]] = {}
"""Every view by name, in registration (display) order."""
ACTIONS: dict[str, ActionSpec[Any, Any]] = {}
"""Every action by name, in registration order."""
CAPABILITIES: dict[str, Capability] = {}
"""Views and actions by name."""
_BY_TOOL: dict[str, Capability] = {}


def register(spec: Capability) -> Capability:
    """Add a view or an action; names and tool names must be unique across both kinds."""
    if spec.name in CAPABILITIES:
        raise ValueError(f"capability {spec.name!r} is declared twice")
    if spec.tool in _BY_TOOL:
        raise ValueError(f"tool name {spec.tool!r} is used by {_BY_TOOL[spec.tool].name!r} already")
    if isinstance(spec, ViewSpec):
        VIEWS[spec.name] = spec
    else:
        ACTIONS[spec.name] = spec
    CAPABILITIES[spec.name] = spec
    _BY_TOOL[spec.tool] = spec
    return spec


def view_spec(name: str) -> ViewSpec[Any, Any]:
    """The view called ``name``; raises :class:`UnknownNameError` listing the views."""
    try:
        return VIEWS[name]
    except KeyError:
        raise UnknownNameError("view", name, VIEWS) from None


def action_spec(name: str) -> ActionSpec[Any, Any]:
    """The action called ``name``; raises :class:`UnknownNameError` listing the actions."""
    try:
        return ACTIONS[name]
    except KeyError:
        raise UnknownNameError("action", name, ACTIONS) from None


def capability(name: str) -> Capability:
    """A view or an action by name."""
    try:
        return CAPABILITIES[name]
    except KeyError:
        raise UnknownNameError("view or action", name, CAPABILITIES) from None


def by_tool(tool: str) -> Capability:
    """The capability behind a tool name; an undeclared tool is refused with the list of tools."""
    try:
        return _BY_TOOL[tool]
    except KeyError:
        raise UnknownNameError("tool", tool, _BY_TOOL) from None


def requires_approval(tool: str) -> bool:
    """Whether the tool runs an action that needs the merchant's approval."""
    spec = by_tool(tool)
    return isinstance(spec, ActionSpec) and spec.requires_approval


def tool_names() -> list[str]:
    """Every tool name: views first, then actions, each in registration order."""
    return [s.tool for s in (*VIEWS.values(), *ACTIONS.values())]


def json_schemas() -> dict[str, dict[str, Any]]:
    """``name -> {kind, tool, description, requires_approval, input, output}`` JSON Schemas of every capability."""
    out: dict[str, dict[str, Any]] = {}
    for spec in (*VIEWS.values(), *ACTIONS.values()):
        out[spec.name] = {
            "kind": spec.kind,
            "tool": spec.tool,
            "description": spec.tool_description,
            "requires_approval": isinstance(spec, ActionSpec) and spec.requires_approval,
            "input": spec.input_schema(),
            "output": spec.result.model_json_schema(mode="serialization"),
        }
    return out
