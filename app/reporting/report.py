"""Markdown reports: a batch summary (``cjsim report``) and a run comparison (``cjsim compare``).

Example:
    >>> from app.batch.records import RunDir
    >>> from app.reporting.summarize import summarize
    >>> run = RunDir("runs/nightly")                                    # doctest: +SKIP
    >>> print(render_markdown(summarize(run.records()), run.read_manifest()))  # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from app.batch.records import BatchManifest
from app.reporting.compare import Comparison
from app.reporting.summarize import DIMENSIONS, Estimate, MetricRow, Summary
from app.storage.url import mask_url

__all__ = ["render_markdown", "render_comparison", "comparison_rows", "gate_line", "pct", "score", "ratio", "pass_k_columns", "batch_title", "batch_facts"]


def pct(e: Estimate | None, ci: bool = True) -> str:
    """A rate as ``80.0% (49.0–94.3)``, or ``–`` when there is nothing to rate."""
    if e is None:
        return "–"
    text = f"{e.value * 100:.1f}%"
    return f"{text} ({e.low * 100:.1f}–{e.high * 100:.1f})" if ci else text


def score(e: Estimate | None, ci: bool = True) -> str:
    """A mean score as ``0.812 (0.760–0.861)``, or ``–``."""
    if e is None:
        return "–"
    return f"{e.value:.3f} ({e.low:.3f}–{e.high:.3f})" if ci else f"{e.value:.3f}"


def ratio(x: float | None) -> str:
    """A share without an interval as ``62.5%``, or ``–``."""
    return "–" if x is None else f"{x * 100:.1f}%"


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped, no raw HTML tags."""
    return " ".join(str(text).split()).replace("|", "\\|").replace("<", "\\<")


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def pass_k_columns(summary: Summary) -> list[int]:
    """The k values worth a column: 1..5 and the largest k (pass^k is monotone in between)."""
    top = max((max(curve, default=0) for curve in summary.pass_k.values()), default=0)
    return sorted({*range(1, min(top, 5) + 1), top} - {0})


def batch_title(manifest: BatchManifest | None, fallback: str = "batch") -> str:
    """The report's title: the batch's name."""
    return manifest.name if manifest and manifest.name else fallback


def batch_facts(manifest: BatchManifest | None) -> list[str]:
    """One-line facts about how the batch was run (models, grid, when), from its manifest."""
    if manifest is None:
        return []
    grid = (
        f"{len(manifest.scenarios)} scenarios × {len(manifest.merchants)} merchants × "
        f"{len(manifest.workflows)} workflows × {len(manifest.seeds)} seeds = {len(manifest.cases())} cases"
    )
    facts = [f"CJ model `{manifest.cj_model}`, merchant model `{manifest.merchant_model}`, max {manifest.max_turns} turns", grid]
    if manifest.provider:
        # stored masked; masked again so a folder written by an older cjsim shows no password either
        facts.append("provider: " + ", ".join(f"{k}={mask_url(str(v))}" for k, v in manifest.provider.items()))
    if manifest.created_at:
        facts.append(f"created {manifest.created_at}")
    return facts


def _evaluator_rows(rows: dict[str, MetricRow]) -> list[list[object]]:
    return [[r.key, r.n, score(r.mean), pct(r.pass_rate), r.skipped] for r in rows.values()]


def _conversations(summary: Summary) -> list[str]:
    c = summary.conversations
    lines = ["## Conversations", ""]
    lines += _table(
        ["conversations", "completed", "failed", "retried", "mean messages", "mean tool calls"],
        [[c.total, c.ok, c.failed, c.retried, _num(c.mean_messages), _num(c.mean_tool_calls)]],
    )
    if c.termination:
        lines += _table(["termination reason", "conversations"], [[k, v] for k, v in c.termination.items()])
    return lines


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def _breakdowns(summary: Summary) -> list[str]:
    lines = []
    keys = summary.evaluators
    for dim in DIMENSIONS:
        groups = summary.breakdowns.get(dim, {})
        if not groups:
            continue
        lines += [f"## Pass rate by {dim}", ""]
        sizes = Counter(getattr(r.case, dim) for r in summary.records)
        rows = [[value, sizes[value], *(pct(by_key[k].pass_rate) for k in keys)] for value, by_key in groups.items()]
        lines += _table([dim, "n", *keys], rows)
    return lines


def _consistency(summary: Summary) -> list[str]:
    ks = pass_k_columns(summary)
    if not ks:
        return []
    lines = [
        "## Consistency across seeds",
        "",
        "pass^k: chance that k seeds of the same case all pass (unbiased C(c,k)/C(n,k), averaged over cases). "
        "Flip rate: share of cases whose seeds disagree; pairwise: share of seed pairs that disagree.",
        "",
    ]
    rows = []
    for key in summary.evaluators:
        curve, flips = summary.pass_k.get(key, {}), summary.flips[key]
        rows.append(
            [key, flips.groups, *(ratio(curve.get(k)) for k in ks), ratio(flips.rate), ratio(flips.pairwise)]
        )
    return lines + _table(["evaluator", "cases with ≥2 seeds", *(f"pass^{k}" for k in ks), "flip rate", "pairwise"], rows)


def _failures(summary: Summary) -> list[str]:
    lines: list[str] = []
    if summary.failed_conversations:
        lines += ["## Failed conversations", ""]
        lines += _table(
            ["case", "attempts", "error"],
            [[c.case_id, summary.records[c.index].attempts, c.error or "(no reason recorded)"] for c in summary.failed_conversations],
        )
    if summary.failure_groups:
        lines += ["## Failures by reason category", ""]
        lines += _table(
            ["evaluator", "reason category", "conversations", "examples"],
            [[g.evaluator, g.category, g.count, ", ".join(g.cases)] for g in summary.failure_groups],
        )
    reasons = {k: v for k, v in summary.failure_reasons.items() if v}
    if reasons:
        lines += ["## Why evaluators failed", ""]
        for key, items in reasons.items():
            lines.append(f"**{key}**")
            lines += [f"- {r.count}× {_cell(r.comment)} (e.g. {', '.join(r.cases)})" for r in items]
            lines.append("")
    return lines


def _worst(summary: Summary) -> list[str]:
    if not summary.worst:
        return []
    rows = [
        [c.case_id, c.status, "–" if c.score is None else f"{c.score:.3f}", ", ".join(c.failed) or (c.error or "")]
        for c in summary.worst
    ]
    return ["## Worst cases", "", *_table(["case", "status", "mean score", "failed evaluators / error"], rows)]


def render_markdown(summary: Summary, manifest: BatchManifest | None = None, title: str | None = None) -> str:
    """The batch report as Markdown: conversations, evaluators with 95% intervals, breakdowns,
    pass^k and flip rates, failures with reasons, and the worst cases."""
    lines = [f"# Batch report: {title or batch_title(manifest)}", ""]
    facts = batch_facts(manifest)
    if facts:
        lines += [*(f"- {f}" for f in facts), ""]
    lines += _conversations(summary)
    if summary.evaluators:
        lines += [
            "## Evaluators",
            "",
            "Mean score with a 95% percentile-bootstrap interval; pass rate with a 95% Wilson interval. "
            "Skipped results are excluded and counted. `all`: completed and passed every evaluator that ran.",
            "",
            *_table(["evaluator", "n", "mean score (95% CI)", "pass rate (95% CI)", "skipped"], _evaluator_rows(summary.overall)),
        ]
        lines += _breakdowns(summary)
        lines += _consistency(summary)
    else:
        lines += ["No evaluator results in this batch; score it with `cjsim eval`.", ""]
    lines += _failures(summary)
    lines += _worst(summary)
    return "\n".join(lines).rstrip() + "\n"


def _signed(x: float | None, points: bool) -> str:
    if x is None:
        return "–"
    return f"{x * 100:+.1f} pts" if points else f"{x:+.3f}"


def _plain(x: float | None, points: bool) -> str:
    if x is None:
        return "–"
    return f"{x * 100:.1f}%" if points else f"{x:.3f}"


def _p(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.1e}" if x < 0.0001 else f"{x:.4f}"


def comparison_rows(comparison: Comparison, a_label: str = "A", b_label: str = "B") -> list[list[str]]:
    """One row of cells per metric: values, change, interval, n, method, test, p-values, verdict."""
    rows = []
    for d in comparison.rows:
        points = d.stat == "pass_rate"
        interval = "–" if d.low is None else f"[{_signed(d.low, points)}, {_signed(d.high, points)}]"
        verdict = "WORSE" if d.worse else "better" if d.better else ""
        if d.delta is None:
            verdict = f"only in {a_label}" if d.a is not None else f"only in {b_label}" if d.b is not None else "no data"
        rows.append([
            d.name, _plain(d.a, points), _plain(d.b, points), _signed(d.delta, points), interval,
            f"{d.n_a}/{d.n_b}", d.pairing, d.test, _p(d.p_worse), _p(d.p_adjusted),
            "–" if d.threshold is None else f"{d.threshold:.4g}", verdict,
        ])  # fmt: skip
    return rows


def gate_line(comparison: Comparison) -> str:
    """The family-wise and per-metric alpha of the gate, in one sentence."""
    family = comparison.family
    per_metric = comparison.per_metric_alpha
    if per_metric is None:
        return "No metric could be tested (none is in both runs)."
    low, high = per_metric
    effect = f", and a change beyond −{comparison.min_effect:g}" if comparison.min_effect else ""
    return (
        f"Gate: family-wise α = {comparison.alpha:g} over {len(family)} metrics (Holm); per-metric α from "
        f"{low:.4g} (smallest p) to {high:g} (largest p). A metric is WORSE when its Holm-adjusted one-sided "
        f"p-value is at most {comparison.alpha:g}{effect}."
    )


def render_comparison(comparison: Comparison, a_label: str = "A", b_label: str = "B") -> str:
    """The comparison as a Markdown table, the gate's alpha, and the verdict line."""
    level = f"{(1 - comparison.alpha) * 100:g}%"
    header = ["metric", a_label, b_label, "Δ (B−A)", f"{level} CI", "n (A/B)", "paired by", "test", "p (worse)",
              "Holm p", "per-metric α", "verdict"]  # fmt: skip
    lines = [
        f"# Comparison: {a_label} → {b_label}",
        "",
        *_table(header, comparison_rows(comparison, a_label, b_label)),
        gate_line(comparison),
        "",
    ]
    worse = comparison.regressions
    if worse:
        lines.append(f"{len(worse)} metric(s) significantly worse: " + ", ".join(d.name for d in worse))
    else:
        lines.append(f"No metric significantly worse at family-wise α = {comparison.alpha:g}.")
    return "\n".join(lines) + "\n"
