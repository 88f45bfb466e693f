"""Reporting on batches: statistics, Markdown and HTML reports, and comparing two runs.

Reads what :mod:`app.batch` wrote (``transcripts.jsonl`` records) and never runs a
conversation or an evaluator.

Example:
    >>> from app.batch import RunDir
    >>> from app.reporting import render_markdown, summarize
    >>> run = RunDir("runs/nightly")  # doctest: +SKIP
    >>> print(render_markdown(summarize(run.records()), run.read_manifest()))  # doctest: +SKIP
"""

from app.reporting.compare import Comparison, MetricDelta, compare_runs
from app.reporting.html_report import render_html
from app.reporting.report import render_comparison, render_markdown
from app.reporting.summarize import ALL_KEY, Summary, summarize

__all__ = [
    "summarize",
    "Summary",
    "ALL_KEY",
    "compare_runs",
    "Comparison",
    "MetricDelta",
    "render_markdown",
    "render_comparison",
    "render_html",
]
