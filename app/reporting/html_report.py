"""A batch report as one self-contained HTML file: summary tables, an SVG chart per evaluator,
and a transcript viewer with ungrounded claims highlighted.

Everything is inline (CSS, JS, SVG drawn here), so the file opens offline and can be attached
to a ticket. All text from transcripts and evaluators is HTML-escaped. Tool results are
collapsed and cut at ``max_tool_chars`` so a few hundred conversations stay a manageable file.

Stable hooks for tooling: ``#summary``, ``#evaluator-summary tr[data-evaluator]``,
``figure.chart[data-evaluator]``, ``#conversation-list details.conversation`` (``id="conv-N"``,
``data-case``, ``data-status``, ``data-verdict``, ``data-ungrounded``), ``li.message[data-index]``,
``mark.claim.ungrounded``.

Example:
    >>> html = render_html(summarize(RunDir("runs/nightly").records()))  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections import Counter
from html import escape
from importlib import resources
from string import Template
from typing import Any

from app.batch.records import BatchManifest, RunRecord
from app.evaluation.result import EvalResult
from app.reporting.report import batch_facts, batch_title, pass_k_columns, ratio
from app.reporting.summarize import DIMENSIONS, Estimate, MetricRow, Summary
from app.transcript import MessageRecord, Transcript

__all__ = ["render_html", "highlight_claims", "pass_rate_chart", "MAX_TOOL_CHARS"]

MAX_TOOL_CHARS = 3000
"""Tool results longer than this are cut in the viewer (the transcript file keeps them whole)."""

_MAX_DETAILS_CHARS = 2000


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _pct(e: Estimate | None) -> str:
    if e is None:
        return "–"
    return f'{e.value * 100:.1f}% <span class="ci">({e.low * 100:.1f}–{e.high * 100:.1f})</span>'


def _mean(e: Estimate | None) -> str:
    if e is None:
        return "–"
    return f'{e.value:.3f} <span class="ci">({e.low:.3f}–{e.high:.3f})</span>'


def _clip(text: str, limit: int) -> tuple[str, int]:
    """``text`` cut to ``limit`` characters, and how many were dropped."""
    return (text, 0) if len(text) <= limit else (text[:limit], len(text) - limit)


# ---------------------------------------------------------------------------------------------
# Summary sections
# ---------------------------------------------------------------------------------------------


def _summary_section(summary: Summary, facts: list[str]) -> str:
    c = summary.conversations
    rows = "".join(
        f'<tr data-evaluator="{_e(r.key)}"><th scope="row">{_e(r.key)}</th><td class="num n">{r.n}</td>'
        f'<td class="num mean">{_mean(r.mean)}</td><td class="num pass-rate">{_pct(r.pass_rate)}</td>'
        f'<td class="num skipped">{r.skipped}</td></tr>'
        for r in summary.overall.values()
    )
    ended = "".join(f"<tr><td>{_e(k)}</td><td class=\"num\">{v}</td></tr>" for k, v in c.termination.items())
    mean_msgs = "–" if c.mean_messages is None else f"{c.mean_messages:.1f}"
    mean_tools = "–" if c.mean_tool_calls is None else f"{c.mean_tool_calls:.1f}"
    parts = [
        '<section id="summary"><h2>Summary</h2>',
        '<ul class="facts">' + "".join(f"<li>{_e(f)}</li>" for f in facts) + "</ul>" if facts else "",
        '<table id="conversation-stats"><tr><th>conversations</th><th>completed</th><th>failed</th><th>retried</th>'
        f"<th>mean messages</th><th>mean tool calls</th></tr><tr><td class=\"num total\">{c.total}</td>"
        f'<td class="num ok">{c.ok}</td><td class="num failed">{c.failed}</td><td class="num">{c.retried}</td>'
        f'<td class="num">{mean_msgs}</td><td class="num">{mean_tools}</td></tr></table>',
        f'<table id="termination"><tr><th>termination reason</th><th>conversations</th></tr>{ended}</table>' if ended else "",
    ]
    if rows:
        parts += [
            '<table id="evaluator-summary"><tr><th>evaluator</th><th>n</th><th>mean score (95% CI)</th>'
            f"<th>pass rate (95% CI)</th><th>skipped</th></tr>{rows}</table>",
            '<p class="note">Mean: percentile bootstrap (2,000 resamples). Pass rate: Wilson score interval. '
            "Skipped results are excluded and counted. <code>all</code>: completed and passed every evaluator that ran.</p>",
        ]
    else:
        parts.append('<p class="note">No evaluator results in this batch; score it with <code>cjsim eval</code>.</p>')
    parts.append("</section>")
    return "".join(parts)


def pass_rate_chart(key: str, overall: MetricRow, by_value: dict[str, MetricRow], dimension: str = "scenario") -> str:
    """Inline SVG: pass rate of evaluator ``key`` overall and per ``dimension`` value, with CI whiskers."""
    rows = [("overall", overall), *by_value.items()]
    rows = [(label, r) for label, r in rows if r.pass_rate is not None]
    label_w, bar_w, text_w, row_h, top = 170, 320, 150, 22, 20
    width, height = label_w + bar_w + text_w, top + row_h * len(rows) + 8

    def x(rate: float) -> float:
        return round(label_w + rate * bar_w, 1)

    out = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{_e(key)} pass rate by {_e(dimension)}">'
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<line class="grid" x1="{x(tick)}" y1="{top - 4}" x2="{x(tick)}" y2="{height - 6}"/>')
        out.append(f'<text x="{x(tick)}" y="{top - 7}" text-anchor="middle">{int(tick * 100)}%</text>')
    for i, (label, r) in enumerate(rows):
        e = r.pass_rate
        if e is None:  # filtered above; keeps type checkers content
            continue
        y = top + i * row_h
        mid = y + row_h / 2
        cls = "bar overall" if i == 0 else "bar"
        short = label if len(label) <= 24 else label[:23] + "…"
        tip = f"{label}: {e.value * 100:.1f}% pass, 95% CI {e.low * 100:.1f}–{e.high * 100:.1f}%, n={e.n}"
        out += [
            f'<g class="row" data-label="{_e(label)}"><title>{_e(tip)}</title>',
            f'<text x="{label_w - 6}" y="{mid + 4}" text-anchor="end">{_e(short)}</text>',
            f'<rect class="track" x="{label_w}" y="{y + 4}" width="{bar_w}" height="{row_h - 8}"/>',
            f'<rect class="{cls}" x="{label_w}" y="{y + 4}" width="{round(e.value * bar_w, 1)}" height="{row_h - 8}"/>',
            f'<line class="whisker" x1="{x(e.low)}" y1="{mid}" x2="{x(e.high)}" y2="{mid}"/>',
            f'<line class="whisker" x1="{x(e.low)}" y1="{mid - 5}" x2="{x(e.low)}" y2="{mid + 5}"/>',
            f'<line class="whisker" x1="{x(e.high)}" y1="{mid - 5}" x2="{x(e.high)}" y2="{mid + 5}"/>',
            f'<text x="{label_w + bar_w + 8}" y="{mid + 4}">{e.value * 100:.0f}% (n={e.n})</text></g>',
        ]
    out.append("</svg>")
    return "".join(out)


def _charts_section(summary: Summary) -> str:
    by_scenario = summary.breakdowns.get("scenario", {})
    figures = []
    for key in summary.evaluators:
        overall = summary.overall[key]
        if overall.pass_rate is None:
            continue
        per = {value: rows[key] for value, rows in by_scenario.items()}
        figures.append(
            f'<figure class="chart" data-evaluator="{_e(key)}"><figcaption>{_e(key)}: pass rate by scenario</figcaption>'
            f"{pass_rate_chart(key, overall, per)}</figure>"
        )
    if not figures:
        return ""
    return '<section id="charts"><h2>Pass rate by scenario</h2><p class="note">Bars: pass rate; whiskers: 95% Wilson interval.</p><div class="charts">' + "".join(figures) + "</div></section>"


def _breakdown_section(summary: Summary) -> str:
    if not summary.evaluators:
        return ""
    parts = ['<section id="breakdowns"><h2>Breakdowns</h2>']
    head = "".join(f"<th>{_e(k)}</th>" for k in summary.evaluators)
    for dim in DIMENSIONS:
        groups = summary.breakdowns.get(dim, {})
        sizes = Counter(getattr(r.case, dim) for r in summary.records)
        body = "".join(
            f'<tr data-{dim}="{_e(value)}"><th scope="row">{_e(value)}</th><td class="num">{sizes[value]}</td>'
            + "".join(
                f'<td class="num" title="mean score {_e(_plain_mean(rows[k]))}">{_pct(rows[k].pass_rate)}</td>'
                for k in summary.evaluators
            )
            + "</tr>"
            for value, rows in groups.items()
        )
        parts.append(f'<h3>Pass rate by {dim}</h3><table id="by-{dim}"><tr><th>{dim}</th><th>n</th>{head}</tr>{body}</table>')
    parts.append("</section>")
    return "".join(parts)


def _plain_mean(r: MetricRow) -> str:
    return "–" if r.mean is None else f"{r.mean.value:.3f}"


def _consistency_section(summary: Summary) -> str:
    ks = pass_k_columns(summary)
    if not ks:
        return ""
    head = "".join(f"<th>pass^{k}</th>" for k in ks)
    body = ""
    for key in summary.evaluators:
        curve, f = summary.pass_k.get(key, {}), summary.flips[key]
        cells = "".join(f'<td class="num">{ratio(curve.get(k))}</td>' for k in ks)
        body += (
            f'<tr data-evaluator="{_e(key)}"><th scope="row">{_e(key)}</th><td class="num">{f.groups}</td>{cells}'
            f'<td class="num flip-rate">{ratio(f.rate)}</td><td class="num">{ratio(f.pairwise)}</td></tr>'
        )
    return (
        '<section id="consistency"><h2>Consistency across seeds</h2>'
        '<p class="note">pass^k: chance that k seeds of a case all pass, C(c,k)/C(n,k) averaged over cases. '
        "Flip rate: share of cases whose seeds disagree; pairwise: share of seed pairs that disagree.</p>"
        f'<table id="pass-k"><tr><th>evaluator</th><th>cases with ≥2 seeds</th>{head}<th>flip rate</th><th>pairwise</th></tr>{body}</table></section>'
    )


def _failures_section(summary: Summary) -> str:
    parts = []
    if summary.failed_conversations:
        rows = "".join(
            f'<tr><td><a class="case-link" href="#conv-{c.index}">{_e(c.case_id)}</a></td>'
            f'<td class="num">{summary.records[c.index].attempts}</td><td class="error-text">{_e(c.error or "(no reason recorded)")}</td></tr>'
            for c in summary.failed_conversations
        )
        parts.append(f'<h3>Failed conversations</h3><table id="failed-conversations"><tr><th>case</th><th>attempts</th><th>error</th></tr>{rows}</table>')
    if summary.failure_groups:
        rows = "".join(
            f'<tr data-evaluator="{_e(g.evaluator)}"><td>{_e(g.evaluator)}</td><td>{_e(g.category)}</td>'
            f'<td class="num">{g.count}</td><td>{_e(", ".join(g.cases))}</td></tr>'
            for g in summary.failure_groups
        )
        parts.append(
            '<h3>Failures by reason category</h3><table id="failure-groups"><tr><th>evaluator</th><th>reason category</th>'
            f"<th>conversations</th><th>examples</th></tr>{rows}</table>"
        )
    for key, reasons in summary.failure_reasons.items():
        if reasons:
            items = "".join(f"<li>{r.count}× {_e(r.comment)} <span class=\"ci\">(e.g. {_e(', '.join(r.cases))})</span></li>" for r in reasons)
            parts.append(f'<h3>Why {_e(key)} failed</h3><ul class="failure-reasons" data-evaluator="{_e(key)}">{items}</ul>')
    if summary.worst:
        rows = "".join(
            f'<tr><td><a class="case-link" href="#conv-{c.index}">{_e(c.case_id)}</a></td><td>{_e(c.status)}</td>'
            f'<td class="num">{"–" if c.score is None else f"{c.score:.3f}"}</td><td>{_e(", ".join(c.failed) or (c.error or ""))}</td></tr>'
            for c in summary.worst
        )
        parts.append(f'<h3>Worst cases</h3><table id="worst-cases"><tr><th>case</th><th>status</th><th>mean score</th><th>failed evaluators / error</th></tr>{rows}</table>')
    return '<section id="failures"><h2>Failures</h2>' + "".join(parts) + "</section>" if parts else ""


# ---------------------------------------------------------------------------------------------
# Transcript viewer
# ---------------------------------------------------------------------------------------------


def _claims_by_message(result: EvalResult | None) -> dict[int, list[dict[str, Any]]]:
    if result is None or result.skipped:
        return {}
    claims = result.details.get("claims")
    out: dict[int, list[dict[str, Any]]] = {}
    if isinstance(claims, list):
        for c in claims:
            if isinstance(c, dict) and isinstance(c.get("message"), int):
                out.setdefault(c["message"], []).append(c)
    return out


def highlight_claims(content: str, claims: list[dict[str, Any]]) -> tuple[str, int]:
    """``content`` HTML-escaped, with each claim wrapped: ungrounded ones in ``<mark class="claim ungrounded">``.

    Claims use the grounding evaluator's character offsets; a claim whose offsets do not
    match its text (or overlap an earlier one) is left unmarked rather than mis-placed.
    Returns the HTML and the number of ungrounded claims marked.
    """
    spans = []
    for c in claims:
        start, end, text = c.get("start"), c.get("end"), c.get("text")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(content)):
            continue
        if isinstance(text, str) and content[start:end] != text:
            continue
        spans.append((start, end, c))
    spans.sort(key=lambda s: s[0])
    out, pos, marked = [], 0, 0
    for start, end, c in spans:
        if start < pos:
            continue
        out.append(_e(content[pos:start]))
        status = str(c.get("status", ""))
        piece = _e(content[start:end])
        if status == "ungrounded":
            marked += 1
            out.append(f'<mark class="claim ungrounded" title="ungrounded: no tool result matches this {_e(c.get("kind", "number"))}">{piece}</mark>')
        else:
            source = c.get("source")
            tip = f"{status}" + (f": {source}" if source else "")
            out.append(f'<span class="claim {_e(status or "grounded")}" title="{_e(tip)}">{piece}</span>')
        pos = end
    out.append(_e(content[pos:]))
    return "".join(out), marked


def _message(index: int, m: MessageRecord, claims: list[dict[str, Any]], max_tool_chars: int) -> tuple[str, int]:
    time = _e(m.timestamp[11:19])
    if m.role == "tool":
        text, dropped = _clip(m.content, max_tool_chars)
        note = f'<p class="truncated">… {dropped:,} more characters not shown</p>' if dropped else ""
        cls = "tool-result error" if m.status == "error" else "tool-result"
        return (
            f'<li class="message role-tool" data-index="{index}"><details class="{cls}"><summary>tool result: '
            f"<code>{_e(m.name or '?')}</code> · {_e(m.status or '')} · {len(m.content):,} chars</summary>"
            f"<pre>{_e(text)}</pre>{note}</details></li>"
        ), 0
    who = "Merchant" if m.role == "merchant" else "CJ"
    body, marked = highlight_claims(m.content, claims)
    calls = "".join(
        f'<div class="tool-call">↳ calls <code class="tool-name">{_e(c.name)}</code> '
        f'<code class="args">{_e(json.dumps(c.args, ensure_ascii=False))}</code></div>'
        for c in m.tool_calls or []
    )
    content = f'<div class="content">{body}</div>' if m.content else ""
    flag = f' data-ungrounded="{marked}"' if marked else ""
    return (
        f'<li class="message role-{m.role}" data-index="{index}"{flag}><div class="who">{who} · {time}</div>'
        f"{content}{calls}</li>"
    ), marked


def _scores_table(scores: list[EvalResult]) -> str:
    if not scores:
        return '<p class="note">Not scored.</p>'
    rows = []
    for s in scores:
        verdict = "skipped" if s.skipped else {True: "pass", False: "fail", None: "–"}[s.passed]
        details = ""
        if s.details:
            text, dropped = _clip(json.dumps(s.details, ensure_ascii=False, indent=1), _MAX_DETAILS_CHARS)
            more = f'<p class="truncated">… {dropped:,} more characters not shown</p>' if dropped else ""
            details = f'<details class="eval-details"><summary>details</summary><pre>{_e(text)}</pre>{more}</details>'
        rows.append(
            f'<tr data-evaluator="{_e(s.key)}"><td>{_e(s.key)}</td><td class="num">{"–" if s.score is None else f"{s.score:.3f}"}</td>'
            f'<td class="passed-{str(s.passed).lower()}">{verdict}</td><td>{_e(s.comment)}{details}</td></tr>'
        )
    return '<table class="scores"><tr><th>evaluator</th><th>score</th><th>verdict</th><th>comment</th></tr>' + "".join(rows) + "</table>"


def _badges(r: RunRecord) -> str:
    out = []
    for s in r.scores:
        cls = "skip" if s.skipped else "pass" if s.passed else "fail" if s.passed is False else "skip"
        out.append(f'<span class="badge {cls}" title="{_e(s.comment)}">{_e(s.key)}</span>')
    return "".join(out)


def _meta(t: Transcript) -> str:
    path = " → ".join(p["workflow"] for p in t.workflow_path) or t.workflow
    stages = ", ".join(f"{s['workflow']}.{s['stage']}" for s in t.stages_reached) or "none"
    ended = t.termination_reason + (f" ({t.error})" if t.error else "")
    context = ", ".join(f"{k}={v}" for k, v in t.merchant_context.items())
    return (
        f'<ul class="facts conv-meta"><li>workflow path: {_e(path)}</li><li>stages reached: {_e(stages)}</li>'
        f"<li>ended: {_e(ended)}</li><li>merchant context: {_e(context)}</li></ul>"
    )


def _conversation(index: int, r: RunRecord, max_tool_chars: int) -> str:
    t = r.transcript
    claims = _claims_by_message(r.score("grounding"))
    messages, ungrounded = [], 0
    for i, m in enumerate(t.messages if t else []):
        html, marked = _message(i, m, claims.get(i, []), max_tool_chars)
        messages.append(html)
        ungrounded += marked
    ran = [s for s in r.scores if not s.skipped and s.passed is not None]
    if r.status != "ok" or (ran and not all(s.passed for s in ran)):
        verdict = "fail"
    else:
        verdict = "pass" if ran else "none"
    ended = t.termination_reason if t else "no transcript"
    failed_keys = [s.key for s in ran if not s.passed]
    search = " ".join([r.case.id, ended, r.status, *failed_keys]).lower()
    error = f'<p class="error-text">failed after {r.attempts} attempt(s): {_e(r.error or "no reason recorded")}</p>' if r.status != "ok" else ""
    marks = f'<span class="badge fail">{ungrounded} ungrounded</span>' if ungrounded else ""
    return (
        f'<details class="conversation" id="conv-{index}" data-case="{_e(r.case.id)}" data-scenario="{_e(r.case.scenario)}" '
        f'data-merchant="{_e(r.case.merchant)}" data-workflow="{_e(r.case.workflow)}" data-seed="{r.case.seed}" '
        f'data-status="{_e(r.status)}" data-verdict="{verdict}" data-ungrounded="{ungrounded}" data-search="{_e(search)}">'
        f'<summary><span class="case-id">{_e(r.case.id)}</span><span class="badge ended">{_e(ended)}</span>{marks}{_badges(r)}</summary>'
        f'<div class="conv-body">{error}{_meta(t) if t else ""}<h4>Evaluator results</h4>{_scores_table(r.scores)}'
        f'<h4>Messages</h4><ol class="messages">{"".join(messages)}</ol></div></details>'
    )


def _transcripts_section(records: list[RunRecord], max_tool_chars: int) -> str:
    items = "".join(_conversation(i, r, max_tool_chars) for i, r in enumerate(records))
    return (
        '<section id="transcripts"><h2>Conversations</h2><div class="controls">'
        '<input id="conv-filter" type="search" placeholder="filter: scenario, merchant, workflow, evaluator…" aria-label="filter conversations">'
        '<select id="conv-verdict" aria-label="show"><option value="all">all</option><option value="fail">failing</option>'
        '<option value="pass">passing</option><option value="failed">failed to complete</option>'
        '<option value="ungrounded">with ungrounded claims</option></select>'
        '<button type="button" id="expand-all">expand all</button><button type="button" id="collapse-all">collapse all</button>'
        f'<span id="conv-count" class="note">{len(records)} conversations</span></div>'
        f'<div id="conversation-list">{items}</div></section>'
    )


def render_html(
    summary: Summary,
    manifest: BatchManifest | None = None,
    title: str | None = None,
    max_tool_chars: int = MAX_TOOL_CHARS,
) -> str:
    """The whole report as one HTML document (no external resources)."""
    name = title or batch_title(manifest)
    sections = [
        ("summary", "summary", _summary_section(summary, batch_facts(manifest))),
        ("charts", "charts", _charts_section(summary)),
        ("breakdowns", "breakdowns", _breakdown_section(summary)),
        ("consistency", "consistency", _consistency_section(summary)),
        ("failures", "failures", _failures_section(summary)),
        ("transcripts", "conversations", _transcripts_section(summary.records, max_tool_chars)),
    ]
    # link only the sections this batch has (no charts without evaluators, no failures section when clean)
    nav = "".join(f'<a href="#{anchor}">{label}</a>' for anchor, label, html in sections if html)
    body = f"<header><h1>Batch report: {_e(name)}</h1><nav>{nav}</nav></header>" + "".join(h for _, _, h in sections)
    template = Template(resources.files("app.reporting").joinpath("report_template.html").read_text(encoding="utf-8"))
    return template.substitute(title=_e(f"Batch report: {name}"), body=body)

