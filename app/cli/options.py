"""Parsing helpers shared by CLI commands: seed ranges, view arguments, name lists."""

from __future__ import annotations

import datetime as dt
import typing
from typing import Any

from app.errors import InvalidArgumentError, UnknownNameError
from app.views.registry import Capability

__all__ = ["parse_seeds", "parse_view_args", "parse_date", "parse_names", "CONFIRM_SEEDS_ABOVE", "MAX_SEEDS"]

CONFIRM_SEEDS_ABOVE = 1_000
"""More seeds than this run only with ``--yes``: each seed is a world to generate (and, in a
batch, a conversation for every scenario, merchant and workflow)."""

MAX_SEEDS = 1_000_000
"""No seed list may name more seeds than this, confirmed or not."""


def _seed_ranges(text: str) -> list[tuple[int, int]]:
    ranges = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if lo > hi:
                    raise ValueError
                ranges.append((lo, hi))
            elif part:
                ranges.append((int(part), int(part)))
    except ValueError:
        raise InvalidArgumentError(f"bad seed list {text!r}; use e.g. 0-9, 1,4,7 or 3") from None
    if not ranges or min(lo for lo, _ in ranges) < 0:
        raise InvalidArgumentError(f"bad seed list {text!r}; seeds are non-negative integers")
    return ranges


def _count(ranges: list[tuple[int, int]]) -> int:
    """How many distinct seeds the ranges name (overlaps counted once), without listing them."""
    total, reach = 0, -1
    for lo, hi in sorted(ranges):
        if hi > reach:
            total += hi - max(lo, reach + 1) + 1
            reach = hi
    return total


def parse_seeds(text: str, *, confirmed: bool = False) -> list[int]:
    """``"0-9"``, ``"1,4,7"`` or ``"3"`` -> sorted unique seeds.

    More than :data:`CONFIRM_SEEDS_ABOVE` seeds need ``confirmed`` (the ``--yes`` option); more
    than :data:`MAX_SEEDS` are refused. Both are checked before any seed list is built.
    """
    ranges = _seed_ranges(text)
    n = _count(ranges)
    if n > MAX_SEEDS:
        raise InvalidArgumentError(f"--seeds {text} names {n:,} seeds; at most {MAX_SEEDS:,} can run at once")
    if n > CONFIRM_SEEDS_ABOVE and not confirmed:
        raise InvalidArgumentError(
            f"--seeds {text} names {n:,} seeds, more than {CONFIRM_SEEDS_ABOVE:,}: each is a world to generate and "
            "conversations to run. Pass --yes to run them all, or give a smaller range"
        )
    seeds: set[int] = set()
    for lo, hi in ranges:
        seeds.update(range(lo, hi + 1))
    return sorted(seeds)


def parse_names(text: str, valid: list[str], kind: str) -> list[str]:
    """``"all"`` or a comma-separated list of known names."""
    if text.strip() == "all":
        return list(valid)
    names = [n.strip() for n in text.split(",") if n.strip()]
    for n in names:
        if n not in valid:
            raise UnknownNameError(kind, n, valid)
    if not names:
        raise InvalidArgumentError(f"no {kind} given; use 'all' or a comma-separated list")
    return names


def parse_date(text: str | None, option: str = "--as-of") -> dt.date | None:
    """An ISO date or ``None``."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidArgumentError(f"{option} must be a date like 2025-03-14, got {text!r}") from None


def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) is list:
        return True
    return any(_is_list(a) for a in typing.get_args(annotation))


def _is_bool(annotation: Any) -> bool:
    return annotation is bool


def parse_view_args(spec: Capability, tokens: list[str]) -> dict[str, Any]:
    """A view's or action's arguments from ``--time-range 7d``, ``--time-range=7d`` or ``time_range=7d`` tokens."""
    fields = spec.args.model_fields
    valid = ", ".join(f"--{name.replace('_', '-')}" for name in fields) or "none"
    out: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("--"):
            key, eq, value = token[2:].partition("=")
        elif "=" in token:
            key, _, value = token.partition("=")
            eq = "="
        else:
            raise InvalidArgumentError(f"unexpected argument {token!r} for {spec.kind} {spec.name!r}; its arguments: {valid}")
        key = key.replace("-", "_")
        if key not in fields:
            raise InvalidArgumentError(f"unknown argument {token!r} for {spec.kind} {spec.name!r}; its arguments: {valid}")
        annotation = fields[key].annotation
        if not eq:
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if _is_bool(annotation) and (nxt is None or nxt.startswith("--") or "=" in nxt):
                value = "true"
            elif nxt is None:
                raise InvalidArgumentError(f"argument --{key.replace('_', '-')} of {spec.kind} {spec.name!r} needs a value")
            else:
                value = nxt
                i += 1
        out[key] = [v.strip() for v in value.split(",") if v.strip()] if _is_list(annotation) else value
        i += 1
    return out
