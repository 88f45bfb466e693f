"""Every Python snippet in README.md and docs/ runs.

A document's plain snippets run in order, in one fresh interpreter, in a temporary folder (so a
snippet that registers a view or writes a file cannot leak into other tests). Snippets that
define pytest tests (``def test_...``) are run by pytest, with the project's plugin installed.
Some documents need a file their text creates with a command first; ``SETUP`` runs those commands.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_openai import FakeOpenAIServer, Reply

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)

SETUP: dict[str, list[list[str]]] = {
    "production.md": [
        ["db", "init", "--url", "sqlite:///smokehouse.db"],
        ["db", "load", "--url", "sqlite:///smokehouse.db", "--scenario", "shipping_crisis", "--merchant", "zoe_martinez"],
    ],
}
"""Per document: ``cjsim`` commands run in the snippet's folder before its snippets."""


def snippets(doc: Path) -> list[str]:
    """The Python code blocks of a Markdown document, in order."""
    return _BLOCK.findall(doc.read_text(encoding="utf-8"))


NEEDS_MODEL_SERVER = {"models.md"}
"""Documents whose snippets call a hosted chat model: they run against a fake OpenAI-compatible
server on 127.0.0.1 (the real client library, no network)."""


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(cmd, cwd=cwd, env=full, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("doc", [d for d in DOCS if snippets(d)], ids=lambda d: d.name)
def test_python_snippets_in_docs_run(doc: Path, tmp_path: Path) -> None:
    if doc.name in NEEDS_MODEL_SERVER:
        with FakeOpenAIServer(default=Reply("Here is what I found.")) as server:
            _run_snippets(doc, tmp_path, {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "test"})
            assert server.requests, f"{doc.name}: the snippets never called the model"
    else:
        _run_snippets(doc, tmp_path, {})


def _run_snippets(doc: Path, tmp_path: Path, env: dict[str, str]) -> None:
    for args in SETUP.get(doc.name, []):
        done = _run([sys.executable, "-m", "app", *args], tmp_path)
        assert done.returncode == 0, done.stderr
    blocks = snippets(doc)
    tests = [b for b in blocks if re.search(r"^def test_", b, re.M)]
    plain = [b for b in blocks if b not in tests]
    if plain:
        done = _run([sys.executable, "-c", "\n".join(plain)], tmp_path, env)
        assert done.returncode == 0, f"{doc.name}: a snippet failed:\n{done.stderr[-3000:]}"
    if tests:  # one pytest run for all of them: a run's start-up costs more than most snippets
        paths = []
        for i, block in enumerate(tests):
            paths.append(tmp_path / f"test_snippet_{i}.py")
            paths[-1].write_text(block, encoding="utf-8")
        done = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                     *map(str, paths)], tmp_path, env)  # fmt: skip
        assert done.returncode == 0, f"{doc.name}: a snippet test failed:\n{done.stdout[-3000:]}"


def test_every_document_with_snippets_is_covered() -> None:
    # A document whose snippets the runner cannot see (e.g. ```py fences) would silently escape.
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        assert not re.search(r"^```(py|python3)\s*$", text, re.M), f"{doc.name}: use ```python fences"
