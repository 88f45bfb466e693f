"""Defects made on the data side: CJ answers from a falsified copy of what its tools returned.

The clean rule-based CJ writes every answer from its tool results. These variants hand it a
copy of the conversation in which the results are falsified -- numbers scaled, metrics swapped,
another window's data, invented customer names -- and let it answer as usual. The transcript
keeps the real results, so an evaluator is tested against data it did not produce: nothing
here reads the evaluators' claim extraction or settings. Wording is in
``data/prompts/defects.yaml``.

=======================  =============================================================  ===================
defect                   CJ answers from a copy of its results in which                  caught by
=======================  =============================================================  ===================
``hallucinate_numbers``  every number is scaled by a factor (per field, by seed)         grounding
``wrong_metric``         metrics of one unit trade values (MRR gets order revenue's)     grounding
``stale_window``         each call fetched another window, relabelled as the asked one   grounding, tool_use
``wrong_customer``       customers carry invented names (their ids stay)                 grounding
=======================  =============================================================  ===================

Example:
    >>> swapped = rotate_fields({"mrr": {"current": 1.0}, "revenue": {"current": 2.0}}, [["mrr", "revenue"]])
    >>> swapped["mrr"], swapped["revenue"]
    ({'current': 2.0}, {'current': 1.0})
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from app.analysis.arguments import normalize_args
from app.policies.defect_base import DefectiveCJ, unit
from app.tools import TOOL_VIEWS

__all__ = [
    "HallucinatingCJ",
    "WrongMetricCJ",
    "StaleWindowCJ",
    "WrongCustomerCJ",
    "DATA_DEFECTS",
    "scale_numbers",
    "rotate_fields",
]

Transform = Callable[[str, dict[str, Any]], dict[str, Any]]


def _with_results(messages: Sequence[BaseMessage], transform: Transform) -> list[BaseMessage]:
    """``messages`` with every tool result's JSON replaced by ``transform(view, deep copy)``."""
    tools = {c["id"]: c["name"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls}
    out: list[BaseMessage] = []
    for m in messages:
        if isinstance(m, ToolMessage) and isinstance(m.artifact, dict):
            view = TOOL_VIEWS.get(m.name or tools.get(m.tool_call_id, ""), "")
            m = m.model_copy(update={"artifact": transform(view, copy.deepcopy(m.artifact))})
        out.append(m)
    return out


class _FalsifiedDataCJ(DefectiveCJ):
    """Answers (never calls) from a falsified copy of the tool results."""

    @abstractmethod
    def _falsify(self, view: str, artifact: dict[str, Any]) -> dict[str, Any]:
        """The falsified copy of one result of ``view`` (``artifact`` is already a copy)."""

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        reply = self._clean_reply(messages)
        if not reply.content or reply.tool_calls:
            return reply
        falsified = self._clean_reply(_with_results(messages, self._falsify))
        return falsified if falsified.content and not falsified.tool_calls else reply


# --------------------------------------------------------------------------- hallucinate_numbers


def _scaled(value: float | int, factor: float) -> float | int:
    if isinstance(value, int):
        new = round(value * factor)
        return new if new != value else value + 1
    new_f = round(value * factor, 4)
    return new_f if new_f != value else round(value + 0.1, 4)


def scale_numbers(node: Any, factor_of: Callable[[str], float], path: str = "") -> Any:
    """A copy of ``node`` with every number scaled by ``factor_of(field path)`` (zeros become small)."""
    if isinstance(node, dict):
        return {k: scale_numbers(v, factor_of, f"{path}.{k}") for k, v in node.items()}
    if isinstance(node, list):
        return [scale_numbers(v, factor_of, f"{path}.#") for v in node]
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return _scaled(node, factor_of(path))
    return node


class HallucinatingCJ(_FalsifiedDataCJ):
    """States numbers the data does not hold: each field's values scaled by a seed-chosen factor."""

    defect: ClassVar[str] = "hallucinate_numbers"

    def _falsify(self, view: str, artifact: dict[str, Any]) -> dict[str, Any]:
        factors = self.resolved_catalog.prompts.defects.hallucinate_numbers.factors
        result: dict[str, Any] = scale_numbers(
            artifact, lambda path: factors[int(unit(self.seed, "factor", path) * len(factors))]
        )
        return result


# --------------------------------------------------------------------------- wrong_metric


def _get(node: dict[str, Any], path: str) -> Any:
    for step in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(step)  # type: ignore[assignment]
    return node


def _set(node: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for step in parents:
        node = node[step]
    node[last] = value


def rotate_fields(artifact: dict[str, Any], groups: Sequence[Sequence[str]]) -> dict[str, Any]:
    """``artifact`` with each group's present, same-shaped fields rotated by one (a copy is not made)."""
    for group in groups:
        present = [p for p in group if _get(artifact, p) is not None]
        shapes = {type(_get(artifact, p)) is dict for p in present}
        if len(present) < 2 or len(shapes) != 1:
            continue
        values = [_get(artifact, p) for p in present]
        for path, value in zip(present, values[1:] + values[:1], strict=True):
            _set(artifact, path, value)
    return artifact


class WrongMetricCJ(_FalsifiedDataCJ):
    """States real numbers of the wrong metric: metrics of one unit trade values."""

    defect: ClassVar[str] = "wrong_metric"

    def _falsify(self, view: str, artifact: dict[str, Any]) -> dict[str, Any]:
        return rotate_fields(artifact, self.resolved_catalog.prompts.defects.wrong_metric.groups.get(view, []))


# --------------------------------------------------------------------------- stale_window


class StaleWindowCJ(DefectiveCJ):
    """Fetches another time window than the one asked for and presents it as the asked one."""

    defect: ClassVar[str] = "stale_window"

    def _windows(self) -> tuple[dict[str, str], dict[str, str]]:
        stale = dict(self.resolved_catalog.prompts.defects.stale_window.windows)
        return stale, {v: k for k, v in stale.items()}

    def _relabel(self, messages: Sequence[BaseMessage], back: dict[str, str]) -> list[BaseMessage]:
        """CJ's belief: every call and result carries the window it meant to ask for."""
        out: list[BaseMessage] = []
        for m in messages:
            if isinstance(m, AIMessage) and m.tool_calls:
                calls = []
                for c in m.tool_calls:
                    args = dict(c["args"])
                    if isinstance(args.get("time_range"), str):
                        args["time_range"] = back.get(args["time_range"], args["time_range"])
                    calls.append({**c, "args": args})
                m = m.model_copy(update={"tool_calls": calls})
            elif isinstance(m, ToolMessage) and isinstance(m.artifact, dict) and isinstance(m.artifact.get("time_range"), str):
                window = m.artifact["time_range"]
                m = m.model_copy(update={"artifact": {**m.artifact, "time_range": back.get(window, window)}})
            out.append(m)
        return out

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        stale, back = self._windows()
        reply = self._clean_reply(self._relabel(messages, back))
        if not reply.tool_calls:
            return reply
        calls = []
        for c in reply.tool_calls:
            window = normalize_args(c["name"], dict(c["args"])).get("time_range")
            args = dict(c["args"])
            if isinstance(window, str) and window in stale:
                args["time_range"] = stale[window]
            calls.append({**c, "args": args})
        return reply.model_copy(update={"tool_calls": calls})


# --------------------------------------------------------------------------- wrong_customer


class WrongCustomerCJ(_FalsifiedDataCJ):
    """Names customers who are not in any result: every customer gets an invented name."""

    defect: ClassVar[str] = "wrong_customer"

    def _invented(self, real: str) -> str:
        wording = self.resolved_catalog.prompts.defects.wrong_customer
        first = wording.first_names[int(unit(self.seed, "first", real) * len(wording.first_names))]
        last = wording.last_names[int(unit(self.seed, "last", real) * len(wording.last_names))]
        return f"{first} {last}"

    def _falsify(self, view: str, artifact: dict[str, Any]) -> dict[str, Any]:
        fields = self.resolved_catalog.prompts.defects.wrong_customer.name_fields

        def visit(node: Any) -> Any:
            if isinstance(node, dict):
                return {
                    k: self._invented(v) if k in fields and isinstance(v, str) else visit(v) for k, v in node.items()
                }
            if isinstance(node, list):
                return [visit(v) for v in node]
            return node

        result: dict[str, Any] = visit(artifact)
        return result


DATA_DEFECTS: tuple[type[DefectiveCJ], ...] = (HallucinatingCJ, WrongMetricCJ, StaleWindowCJ, WrongCustomerCJ)
"""The data-side variants, registered with the others in :data:`app.policies.defects.DEFECTS`."""
