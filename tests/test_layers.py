"""Layers of the ``app`` package: packages import one way, and some never import others.

The import graph is read from the source with ``ast``, function-level imports included (a lazy
import is still a dependency); imports under ``if TYPE_CHECKING:`` are left out, since they
never run (they only name types for annotations). A *package* is a folder of ``app`` (``app/evaluation/``,
``app/batch/``, ...), whatever its name; the modules directly in ``app/`` (``app/graph.py``,
``app/simulation.py``, ...) belong to no package, so package A *reaches* module M when a module
of A imports M directly or through a chain of those top-level modules. Package A depends on
package B when it reaches a module of B.

Two checks: no cycle between packages, and every rule of :data:`RULES`. Add a rule as one row.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "app"

RULES: list[tuple[str, str, str]] = [
    # (importer, never imported, why) -- each a package or module name; a name covers its submodules
    ("app.policies", "app.evaluation", "offline models do not depend on how they are graded"),
    ("app.evaluation", "app.policies", "what is correct lives in the workflow and intent data, not in one CJ"),
    ("app.evaluation", "app.providers", "evaluators judge transcripts and never open data providers"),
    ("app.evaluation", "app.agents.data_agent", "evaluators judge transcripts and never generate worlds"),
    ("app.evaluation", "app.model_specs", "evaluators take chat models; the batch runner builds them"),
    ("app.evaluation", "app.simulation", "evaluators never run conversations"),
    ("app.evaluation", "app.batch", "running conversations sits above the evaluators"),
    ("app.analysis", "app.policies", "shared analysis sits below the offline models"),
    ("app.analysis", "app.evaluation", "shared analysis sits below the evaluators"),
    ("app.reporting", "app.simulation", "reports read run folders; they never run conversations"),
    ("app.catalog", "app.policies", "the catalog reads file formats, never the models they configure"),
    ("app.catalog", "app.evaluation", "the catalog reads file formats, never the evaluators they configure"),
    ("app.formats", "app.catalog", "file formats sit below the catalog that loads them"),
    ("app.storage", "app.catalog", "storage writes rows; what to generate is decided above it"),
    ("app.storage", "app.governance", "privacy requests search and change the stores; the stores never call them"),
    ("app.governance", "app.providers", "privacy requests work on databases by URL, beside the read-only data providers"),
    ("app.storage", "app.mcp", "the store keeps key rows; making and checking API keys sits above it"),
    ("app.execution", "app.batch", "executors run any picklable function; batches sit above them"),
    ("app.execution", "app.experiments", "executors run any picklable function; experiments sit above them"),
    ("app.journeys", "app.catalog", "the views import the journey model; runs over named worlds sit above (app/orchestration.py)"),
    ("app.experiments", "app.catalog", "the views import the experiments engine; it reads named worlds from the data files"),
]


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    """Every module of ``app`` by dotted name (a package by its ``__init__``)."""
    return {_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _known(name: str) -> str | None:
    """The module ``name`` refers to: itself, else its nearest enclosing module (``from m import attr``)."""
    modules = _modules()
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``): a block that never runs."""
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:`` blocks (annotations only)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if _is_type_checking(node):
            todo.extend(getattr(node, "orelse", []))
            continue
        todo.extend(ast.iter_child_nodes(node))


def _imports(module: str) -> Iterator[str]:
    """Modules of ``app`` that ``module`` imports anywhere in its source that runs."""
    path = _modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in _nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] == ROOT.name and (found := _known(target)) is not None:
                yield found


def package_of(module: str) -> str | None:
    """``app.X`` for a module inside the folder ``app/X/``; ``None`` for ``app`` and its top-level modules."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 and (ROOT / parts[1]).is_dir() else None


@cache
def _graph() -> dict[str, frozenset[str]]:
    return {m: frozenset(_imports(m)) for m in _modules()}


def reached(package: str) -> dict[str, list[str]]:
    """Module -> an import chain to it, for every module ``package`` reaches (through top-level modules only)."""
    graph = _graph()
    paths: dict[str, list[str]] = {}
    todo = [(m, [m]) for m in graph if m == package or m.startswith(package + ".")]
    while todo:
        module, chain = todo.pop()
        for target in sorted(graph[module]):
            if target in paths or package_of(target) == package:
                continue
            paths[target] = [*chain, target]
            if package_of(target) is None and target != ROOT.name:
                todo.append((target, paths[target]))
    return paths


def packages() -> list[str]:
    return sorted({p for m in _modules() if (p := package_of(m)) is not None})


def package_graph() -> dict[str, dict[str, list[str]]]:
    """Package -> each package it depends on, with one import chain that shows it."""
    out: dict[str, dict[str, list[str]]] = {}
    for package in packages():
        deps: dict[str, list[str]] = {}
        for module, chain in sorted(reached(package).items()):
            target = package_of(module)
            if target is not None and target != package:
                deps.setdefault(target, chain)
        out[package] = deps
    return out


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Strongly connected groups of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _within(module: str, name: str) -> bool:
    return module == name or module.startswith(name + ".")


# --------------------------------------------------------------------------- the checks


def test_no_cycle_between_packages() -> None:
    graph = package_graph()
    problems = []
    for group in cycles(graph):
        edges = [" -> ".join(graph[a][b]) for a in group for b in group if b in graph[a]]
        problems.append(f"{' <-> '.join(group)}:\n    " + "\n    ".join(edges))
    assert not problems, "import cycles between packages:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize(("importer", "imported", "why"), RULES, ids=[f"{a}-x-{b}" for a, b, _ in RULES])
def test_layer_rule(importer: str, imported: str, why: str) -> None:
    assert _known(importer) == importer, f"{importer} is not a module of app; update RULES"
    assert _known(imported) == imported, f"{imported} is not a module of app; update RULES"
    chains = [chain for module, chain in reached(importer).items() if _within(module, imported)]
    assert not chains, f"{importer} must not import {imported} ({why}):\n  " + "\n  ".join(
        " -> ".join(c) for c in sorted(chains)
    )


# --------------------------------------------------------------------------- the checker itself


def _fake_app(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "app"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_checker_sees_lazy_relative_and_top_level_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _fake_app(
        tmp_path,
        {
            "low/__init__.py": "",
            "low/a.py": "def f():\n    from app import glue  # lazy, through a top-level module\n",
            "glue.py": "from app.high.b import thing\n",
            "high/__init__.py": "from .b import thing\n",
            "high/b.py": "import app.low.a\nthing = 1\n",
            "other/__init__.py": "from typing import TYPE_CHECKING\nfrom app.low import a\nif TYPE_CHECKING:\n    from app.high import b\n",
        },
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", root)
    for cached in (_modules, _graph):
        cached.cache_clear()
    try:
        graph = package_graph()
        assert graph["app.low"]["app.high"] == ["app.low.a", "app.glue", "app.high.b"]
        assert cycles(graph) == [["app.high", "app.low"]]
        assert reached("app.other") == {"app.low.a": ["app.other", "app.low.a"]}
    finally:
        for cached in (_modules, _graph):
            cached.cache_clear()
