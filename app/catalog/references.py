"""Cross-file checks of a data folder: every name one file uses must exist in another.

Each file validates on its own (its pydantic model); what only the whole folder can tell is
checked here, once, when the :class:`~app.catalog.Catalog` loads: transition triggers and
answer keys name intents, intents name workflows, stage and intent arguments are in the
domain of their view (``segment: vampires`` fails here, not at run time), goal and
expectation metrics name a view and a value it returns, settings name intents and tool
arguments. A problem raises :class:`~app.errors.DataFileError` naming the file, the field
and the fix.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NoReturn, Union

from pydantic import BaseModel, ValidationError

from app.errors import DataFileError
from app.models import MILESTONES, MerchantGoal
from app.signatures import STEADY_SCENARIO
from app.tools import ALL_TOOLS
from app.views import CAPABILITIES, VIEWS, by_tool

if TYPE_CHECKING:
    from app.catalog import Catalog

__all__ = ["check_references", "argument_problem", "metric_problem"]


def _fail(source: str, field: str, problem: str) -> NoReturn:
    raise DataFileError(f"{source}: field '{field}': {problem}")


def argument_problem(capability: str, args: dict[str, Any], filled_later: Iterable[str] = ()) -> str | None:
    """Why ``args`` are not valid arguments of a view or action (None when they are).

    ``filled_later`` names arguments supplied at run time (an intent's ``extract``): their
    absence is not a problem.
    """
    spec = CAPABILITIES[capability]
    try:
        spec.args.model_validate(args)  # the model a call's arguments go through (``parse_args``)
    except ValidationError as exc:
        later = set(filled_later)
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "arguments"
            if err["type"] == "missing" and name in later:
                continue
            msg = "unknown argument" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{name}: {msg}")
        if problems:
            valid = ", ".join(spec.args.model_fields) or "none"
            return f"bad arguments for {spec.kind} {spec.name!r}: {'; '.join(problems)} (arguments: {valid})"
    return None


def _walk(annotation: Any, parts: list[str], done: str) -> str | None:
    """Why ``parts`` is not a path into values of type ``annotation`` (None when it is)."""
    if not parts:
        return None
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        problems = [_walk(a, parts, done) for a in options]
        return None if any(p is None for p in problems) else problems[0]
    if origin is typing.Annotated:
        return _walk(typing.get_args(annotation)[0], parts, done)
    head, rest = parts[0], parts[1:]
    if origin in (list, tuple):
        if not head.isdigit():
            return f"{done} is a list: write an item index (e.g. {done}.0), not {head!r}"
        return _walk(typing.get_args(annotation)[0], rest, f"{done}.{head}")
    if origin is dict:
        return _walk(typing.get_args(annotation)[1], rest, f"{done}.{head}")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = annotation.model_fields
        if head not in fields:
            return f"{done} has no field {head!r}; fields: {', '.join(fields)}"
        return _walk(fields[head].annotation, rest, f"{done}.{head}")
    if annotation is Any:
        return None
    return f"{done} is a single value; remove {'.'.join(parts)!r}"


def metric_problem(metric: str, args: dict[str, Any]) -> str | None:
    """Why ``<view>.<path>`` with view arguments ``args`` names no value a view returns (None when it does)."""
    view, *path = metric.split(".")
    if view not in VIEWS:
        return f"unknown view {view!r} in {metric!r}; valid views: {', '.join(VIEWS)}"
    return argument_problem(view, args) or _walk(VIEWS[view].result, path, view)


def _choices(names: Iterable[str]) -> str:
    return ", ".join(names) or "none"


def _intent(catalog: Catalog, source: str, field: str, intent_id: str) -> None:
    if intent_id not in catalog.intents:
        ids = _choices(catalog.intents.ids())
        _fail(source, field, f"unknown intent {intent_id!r}; use an id of intents.yaml ({ids})")


def _intent_list(catalog: Catalog, source: str, field: str, ids: list[str]) -> None:
    for i, intent_id in enumerate(ids):
        _intent(catalog, source, f"{field}.{i}", intent_id)


def _argument_names(tool: str) -> dict[str, Any]:
    return by_tool(tool).args.model_fields


def _tool_arguments(tool: str, args: dict[str, Any], filled_later: Iterable[str] = ()) -> str | None:
    return argument_problem(by_tool(tool).name, args, filled_later)


def _from_results(catalog: Catalog, tool: str) -> list[str]:
    """Arguments of ``tool`` the rule CJ fills from earlier results (rule_cj.yaml ``result_args``)."""
    return list(catalog.prompts.rule_cj.result_args.get(tool, {}))


def _workflows(catalog: Catalog) -> None:
    source = str(catalog.paths.workflows)
    rules = catalog.milestones.names()
    for w in catalog.workflows.by_name.values():
        for i, t in enumerate(w.transitions):
            _intent(catalog, source, f"workflows.{w.name}.transitions.{i}.trigger", t.trigger)
        for i, stage in enumerate(w.conversation_flow):
            where = f"workflows.{w.name}.conversation_flow.{i}"
            if stage.tool is not None:
                problem = _tool_arguments(stage.tool, stage.args, _from_results(catalog, stage.tool))
                if problem:
                    _fail(source, f"{where}.args", f"{problem}; fix the arguments of {stage.tool}")
            elif stage.args:
                _fail(source, f"{where}.args", "a milestone stage calls no tool; remove the arguments")
            elif stage.milestone not in rules:
                why = f"milestones.yaml has no rule for {stage.milestone!r}, so the stage could never complete"
                _fail(source, f"{where}.milestone", f"{why}; add one")


def _intents(catalog: Catalog) -> None:
    source = str(catalog.paths.intents)
    for i, intent in enumerate(catalog.intents.items):
        where = f"intents.{i}"
        if intent.workflow is not None and intent.workflow not in catalog.workflows:
            valid = _choices(catalog.workflows.names())
            _fail(source, f"{where}.workflow", f"unknown workflow {intent.workflow!r}; valid workflows: {valid}")
        if intent.tool is None:
            if intent.args or intent.extract:
                _fail(source, f"{where}.tool", f"intent {intent.id!r} has arguments but no tool; add the tool")
            continue
        fields = _argument_names(intent.tool)
        if intent.extract is not None and intent.extract not in fields:
            valid = _choices(fields)
            _fail(source, f"{where}.extract", f"{intent.tool} has no argument {intent.extract!r}; valid: {valid}")
        later = [intent.extract] if intent.extract else []
        for name in sorted({g for p in intent.patterns for g in re.compile(p).groupindex}):
            if name not in fields:
                _fail(source, f"{where}.patterns", f"{intent.tool} has no argument {name!r} (a named group); valid: "
                      f"{_choices(fields)}")  # fmt: skip
            later.append(name)
        problem = _tool_arguments(intent.tool, intent.args, [*later, *_from_results(catalog, intent.tool)])
        if problem:
            _fail(source, f"{where}.args", f"{problem}; fix the arguments of {intent.tool}")
    for tool, calls in catalog.intents.fallbacks.items():
        for i, call in enumerate(calls):
            # "{arg}" values copy the failed call's argument at run time; the others must fit the view
            literal = {k: v for k, v in call.args.items() if not (isinstance(v, str) and v.startswith("{"))}
            problem = _tool_arguments(call.tool, literal, _argument_names(call.tool))
            if problem:
                _fail(source, f"fallbacks.{tool}.{i}.args", problem)


def _rule_cj(catalog: Catalog) -> None:
    source = str(catalog.paths.rule_cj)
    t = catalog.prompts.rule_cj
    # every tool it can call needs an answer: intents', stages' and its own (a view registered
    # by an extension that nothing calls yet needs none)
    called = {i.tool for i in catalog.intents.items if i.tool}
    called |= {f.tool for calls in catalog.intents.fallbacks.values() for f in calls}
    called |= {s.tool for w in catalog.workflows.by_name.values() for s in w.conversation_flow if s.tool}
    t.validate_references(catalog.intents, source, sorted(called | t.callable_tools()))
    for name in ("paired_intents", "recommend_intents", "pushback_intents", "closing_intents"):
        _intent_list(catalog, source, name, getattr(t, name))
    for key in t.phrases.openings:
        if key != "default" and key not in catalog.workflows:
            _fail(source, f"phrases.openings.{key}", f"unknown workflow {key!r}; use a workflow name or 'default'")
    for key in t.phrases.topics:
        if key not in ALL_TOOLS:
            _fail(source, f"phrases.topics.{key}", f"unknown tool {key!r}; valid tools: {_choices(ALL_TOOLS)}")
    stages = {s.id for w in catalog.workflows.by_name.values() for s in w.conversation_flow}
    for key in t.offers:
        if key not in stages and key not in ALL_TOOLS and key not in MILESTONES:
            _fail(source, f"offers.{key}", f"{key!r} is no stage id, tool or milestone; fix the key or remove it")
    for tool, filled in t.result_args.items():
        fields = _argument_names(tool)
        for arg, sources in filled.items():
            if arg not in fields:
                _fail(source, f"result_args.{tool}", f"{tool} has no argument {arg!r}; valid: {_choices(fields)}")
            for i, path in enumerate(sources):
                if path.partition(".")[0] not in ALL_TOOLS or not path.partition(".")[2]:
                    _fail(source, f"result_args.{tool}.{arg}.{i}", f"{path!r} is not '<tool>.<path>' of a known tool; "
                          f"valid tools: {_choices(ALL_TOOLS)}")  # fmt: skip
    for tool, names in t.inherit_args.items():
        fields = _argument_names(tool)
        for name in names:
            if name not in fields:
                _fail(source, f"inherit_args.{tool}", f"{tool} has no argument {name!r}; valid: {_choices(fields)}")


def _evaluation(catalog: Catalog) -> None:
    source = str(catalog.paths.evaluation)
    s = catalog.evaluation
    _intent_list(catalog, source, "style.recommendation_intents", s.style.recommendation_intents)
    _intent_list(catalog, source, "style.pushback_intents", s.style.pushback_intents)
    _intent_list(catalog, source, "goals.recommendation_intents", s.goals.recommendation_intents)
    for key in s.style.answer_fields:
        _intent(catalog, source, f"style.answer_fields.{key}", key)
    for i, criterion in enumerate(s.judge.criteria):
        if criterion not in catalog.rubrics.criteria:
            _fail(source, f"judge.criteria.{i}", f"{criterion!r} is no criterion of rubrics.yaml; valid: {_choices(catalog.rubrics.criteria)}")
    arguments = sorted({a for spec in CAPABILITIES.values() for a in spec.args.model_fields})
    for i, name in enumerate(s.style.key_args):
        if name not in arguments:
            _fail(source, f"style.key_args.{i}", f"{name!r} is no tool argument; valid: {_choices(arguments)}")


def _scenarios(catalog: Catalog) -> None:
    for sc in catalog.scenarios.all():
        source = str(catalog.paths.scenarios / f"{sc.id}.yaml")
        for i, exp in enumerate(sc.expected):
            problem = metric_problem(exp.metric, exp.args)
            if problem:
                _fail(source, f"expected.{i}.metric", f"{problem}; fix the metric or its args")
            problem = metric_problem(exp.per_metric, exp.args) if exp.per_metric else None
            if problem:
                _fail(source, f"expected.{i}.per", f"{problem}; 'per' is a path in the same view's result")
            ratio = exp.min_ratio_to_steady is not None or exp.max_ratio_to_steady is not None
            if ratio and STEADY_SCENARIO not in catalog.scenarios:
                why = f"ratio bounds compare with the {STEADY_SCENARIO} scenario"
                _fail(source, f"expected.{i}", f"{why}; add scenarios/{STEADY_SCENARIO}.yaml")
        _goals(source, "merchant_goals", sc.merchant_goals)
    for wf in catalog.workflows.by_name.values():
        _goals(str(catalog.paths.workflows), f"workflows.{wf.name}.merchant_goals", wf.merchant_goals)


def _goals(source: str, where: str, goals: list[MerchantGoal]) -> None:
    for i, goal in enumerate(goals):
        if goal.metric is None:
            if goal.args:
                _fail(source, f"{where}.{i}.args", "arguments without a metric; add the metric or remove them")
            continue
        problem = metric_problem(goal.metric, goal.args)
        if problem:
            _fail(source, f"{where}.{i}.metric", f"{problem}; fix the metric or its args")


def check_references(catalog: Catalog) -> None:
    """Check every cross-file reference of ``catalog``; the first problem raises :class:`DataFileError`."""
    _workflows(catalog)
    _intents(catalog)
    _rule_cj(catalog)
    _evaluation(catalog)
    _scenarios(catalog)
