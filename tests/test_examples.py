"""Every example under examples/ runs offline to completion, and the docs' snippets import what exists."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path: Path) -> None:
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip()


def _python_snippets() -> list[object]:
    root = Path(__file__).parent.parent
    found = []
    for doc in sorted([root / "README.md", *(root / "docs").glob("*.md")]):
        blocks = doc.read_text(encoding="utf-8").split("```python\n")[1:]
        found += [pytest.param(block.split("```", 1)[0], id=f"{doc.name}#{i}") for i, block in enumerate(blocks, 1)]
    return found


@pytest.mark.parametrize("code", _python_snippets())
def test_doc_snippets_import_what_exists(code: str) -> None:
    """A Python snippet in the docs imports only modules and names that exist."""
    import ast
    import importlib

    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "app":
            module = importlib.import_module(node.module)
            missing = [a.name for a in node.names if not hasattr(module, a.name)]
            assert not missing, f"{node.module} has no {', '.join(missing)}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "app":
                    importlib.import_module(alias.name)
