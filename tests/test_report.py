"""Markdown and HTML batch reports, and ``cjsim report`` / ``cjsim compare`` on run folders."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.batch.records import BatchManifest, RunDir, RunRecord
from app.cli import app
from app.evaluation.result import EvalResult
from app.reporting.compare import compare_runs
from app.reporting.html_report import highlight_claims, render_html
from app.reporting.report import render_comparison, render_markdown
from app.reporting.summarize import summarize
from tests.test_stats import record, result

runner = CliRunner()

XSS = "<script>alert(1)</script>"
CJ_TEXT = "Churn is 5.2% this month, up from 3.1%."


def flat(text: str) -> str:
    return " ".join(text.split())


def grounding(message: int = 3, text: str = "3.1%") -> EvalResult:
    """A grounding result with one grounded and one ungrounded claim in CJ's reply."""
    claims = [
        {"message": message, "text": "5.2%", "start": CJ_TEXT.index("5.2%"), "end": CJ_TEXT.index("5.2%") + 4,
         "kind": "percent", "status": "grounded", "source": "get_churn.churn_rate"},
        {"message": message, "text": text, "start": CJ_TEXT.index("3.1%"), "end": CJ_TEXT.index("3.1%") + 4,
         "kind": "percent", "status": "ungrounded", "source": None},
    ]  # fmt: skip
    return EvalResult(key="grounding", score=0.5, passed=False, comment="1 of 2 claims ungrounded: '3.1%'",
                      details={"claims": claims, "total": 2, "ungrounded": 1})  # fmt: skip


def batch_records() -> list[RunRecord]:
    """Two scenarios x two seeds plus one failed case; one merchant message carries markup."""
    records = []
    for scenario in ("churn_spike", "growth_stall"):
        for seed in range(2):
            good = scenario == "churn_spike"
            scores = [
                result("goal", good, comment="" if good else "never reached the diagnosis"),
                grounding() if (scenario, seed) == ("growth_stall", 1) else result("grounding", True),
                EvalResult.skip("judge", "no judge model"),
            ]
            text = f"Is churn up? {XSS}" if seed == 1 else "How is churn this month?"
            records.append(record(scenario, seed=seed, scores=scores, merchant_text=text, cj_text=CJ_TEXT))
    records.append(record("churn_spike", seed=2, failed="model timed out after 3 attempts", attempts=3))
    return records


def manifest(name: str = "nightly") -> BatchManifest:
    return BatchManifest(
        name=name, scenarios=["churn_spike", "growth_stall"], merchants=["sarah_chen"], workflows=["crisis_response"],
        seeds=[0, 1, 2], cj_model="rules", merchant_model="script", max_turns=8, evaluators=["goal", "grounding", "judge"],
    )  # fmt: skip


def write_run(path: Path, records: list[RunRecord], name: str | None = None) -> Path:
    run = RunDir(path)
    run.write_manifest(manifest(name or path.name))
    for r in records:
        run.append(r)
    return path


def spread(passes: int, n: int = 60) -> list[RunRecord]:
    return [record(scenario=f"s{i:03d}", scores=[result("goal", i < passes)]) for i in range(n)]


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def markdown() -> str:
    return render_markdown(summarize(batch_records()), manifest())


def test_markdown_summary_table_has_intervals(markdown: str) -> None:
    assert markdown.startswith("# Batch report: nightly\n")
    assert "CJ model `rules`, merchant model `script`, max 8 turns" in markdown
    assert "2 scenarios × 1 merchants × 1 workflows × 3 seeds = 6 cases" in markdown
    assert "| evaluator | n | mean score (95% CI) | pass rate (95% CI) | skipped |" in markdown
    # goal: 2 of 4 completed conversations pass -> Wilson (15.0, 85.0)
    assert "| goal | 4 | 0.500 (" in markdown and "| 50.0% (15.0–85.0) | 0 |" in markdown
    assert re.search(r"\| judge \| 0 \| – \| – \| 4 \|", markdown)
    # all: the failed conversation counts, 2 of 5 pass
    assert re.search(r"\| all \| 5 \| [^|]+ \| 40\.0% \(\d+\.\d–\d+\.\d\) \| 0 \|", markdown)


def test_markdown_breakdowns_and_conversations(markdown: str) -> None:
    assert "| conversations | completed | failed | retried | mean messages | mean tool calls |" in markdown
    assert "| 5 | 4 | 1 | 1 | 4.0 | 1.0 |" in markdown
    assert "| merchant_done | 4 |" in markdown and "| no transcript | 1 |" in markdown
    for dim in ("scenario", "workflow", "merchant"):
        assert f"## Pass rate by {dim}" in markdown
    assert "| scenario | n | goal | grounding | judge | all |" in markdown
    assert re.search(r"\| churn_spike \| 3 \| 100\.0% \([\d.]+–100\.0\) \|", markdown)
    assert re.search(r"\| growth_stall \| 2 \| 0\.0% \(0\.0–[\d.]+\) \|", markdown)


def test_markdown_consistency_section(markdown: str) -> None:
    assert "## Consistency across seeds" in markdown
    assert "| evaluator | cases with ≥2 seeds | pass^1 | pass^2 | pass^3 | flip rate | pairwise |" in markdown
    # goal: churn_spike [T,T], growth_stall [F,F] -> no flips; grounding flips in growth_stall
    assert "| goal | 2 | 50.0% | 50.0% | – | 0.0% | 0.0% |" in markdown
    assert "| grounding | 2 | 75.0% | 50.0% | – | 50.0% | 50.0% |" in markdown
    assert "| judge | 0 | – | – | – | – | – |" in markdown
    # all: the failed seed 2 makes churn_spike [T,T,F]: pass^2 = (1/3 + 0) / 2, pass^3 only over it
    assert "| all | 2 | 33.3% | 16.7% | 0.0% | 50.0% | 33.3% |" in markdown


def test_markdown_failures_with_reasons(markdown: str) -> None:
    assert "## Failed conversations" in markdown
    assert "| churn_spike/sarah_chen/crisis_response/2 | 3 | model timed out after 3 attempts |" in markdown
    assert "## Why evaluators failed" in markdown
    assert "- 2× never reached the diagnosis (e.g. growth_stall/sarah_chen/crisis_response/0, " in markdown
    assert "- 1× 1 of 2 claims ungrounded: '3.1%'" in markdown
    assert "## Worst cases" in markdown
    worst = markdown.split("## Worst cases")[1]
    assert worst.index("churn_spike/sarah_chen/crisis_response/2") < worst.index("growth_stall")


def test_markdown_escapes_table_cells() -> None:
    records = [record(failed="bad | pipe\nand <b>tag</b>")]
    text = render_markdown(summarize(records))
    assert "bad \\| pipe and \\<b>tag\\</b>" in text
    assert "No evaluator results in this batch" in text


def test_comparison_markdown() -> None:
    text = render_comparison(compare_runs(spread(57), spread(20)), "base", "cand")
    assert "# Comparison: base → cand" in text
    header = "| metric | base | cand | Δ (B−A) | 95% CI | n (A/B) | paired by | test | p (worse) | Holm p | per-metric α | verdict |"
    assert header in text
    row = (r"\| goal\.pass_rate \| 95\.0% \| 33\.3% \| -61\.7 pts \| \[-[\d.]+ pts, -[\d.]+ pts\] \| 60/60 \| case \| "
           r"exact McNemar \| [\d.]+e-\d+ \| [\d.]+e-\d+ \| 0\.0\d+ \| WORSE \|")
    assert re.search(row, text)
    assert "Gate: family-wise α = 0.05 over 5 metrics (Holm); per-metric α from 0.01 (smallest p) to 0.05" in text
    verdict = "4 metric(s) significantly worse: all.pass_rate, all.mean, goal.pass_rate, goal.mean"
    assert text.rstrip().endswith(verdict)
    same = render_comparison(compare_runs(spread(57), spread(57), min_effect=0.05))
    assert "No metric significantly worse at family-wise α = 0.05." in same
    assert "and a change beyond −0.05" in same
    other = [record(scenario=r.case.scenario, scores=[result("tone", True)]) for r in spread(57)]
    partial = render_comparison(compare_runs(spread(57), other, metrics=["goal.pass_rate", "tone.pass_rate"]))
    assert "| goal.pass_rate | 95.0% | – | – | – | 60/0 | none | - | – | – | – | only in A |" in partial
    assert "| tone.pass_rate | – | 100.0% | – | – | 0/60 | none | - | – | – | – | only in B |" in partial
    assert "No metric could be tested" in partial


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(summarize(batch_records()), manifest())


class _Tags(HTMLParser):
    """Collects start tags with their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_html_is_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "$title" not in page and "$body" not in page
    found = tags(page)
    assert not [t for t, _ in found if t == "link"]
    for tag, attrs in found:
        for name in ("src", "href", "data", "action", "xlink:href"):
            value = attrs.get(name) or ""
            assert not re.match(r"\s*(https?:)?//", value), f"<{tag} {name}={value!r}> loads an external resource"
        if tag == "script":
            assert "src" not in attrs
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", page)
    assert not re.search(r"@import", page)
    assert "<style>" in page and "<script>" in page  # inline, not linked


def test_html_escapes_transcript_text(page: str) -> None:
    assert XSS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script") == 1  # only the viewer's own script
    named = render_html(summarize([record(failed=XSS)]), title=XSS)
    assert XSS not in named and named.count("<script") == 1
    assert "<title>Batch report: &lt;script&gt;" in named


def test_html_has_a_transcript_per_record_with_tool_calls(page: str) -> None:
    found = tags(page)
    conversations = [a for t, a in found if t == "details" and "conversation" in (a.get("class") or "").split()]
    assert [a["id"] for a in conversations] == [f"conv-{i}" for i in range(5)]
    assert [a["data-case"] for a in conversations][:2] == [
        "churn_spike/sarah_chen/crisis_response/0",
        "churn_spike/sarah_chen/crisis_response/1",
    ]
    verdicts = {a["data-case"]: (a["data-status"], a["data-verdict"], a["data-ungrounded"]) for a in conversations}
    assert verdicts["churn_spike/sarah_chen/crisis_response/2"] == ("failed", "fail", "0")
    assert verdicts["growth_stall/sarah_chen/crisis_response/1"] == ("ok", "fail", "1")
    assert verdicts["churn_spike/sarah_chen/crisis_response/0"] == ("ok", "pass", "0")
    assert page.count('<div class="tool-call">') == 4
    assert '<code class="tool-name">get_churn</code> <code class="args">{&quot;window&quot;: &quot;30d&quot;}</code>' in page
    assert "tool result: <code>get_churn</code> · success" in page
    assert "failed after 3 attempt(s): model timed out after 3 attempts" in page
    # failure tables link to the conversation they name
    assert '<a class="case-link" href="#conv-4">churn_spike/sarah_chen/crisis_response/2</a>' in page


def test_html_summary_sections(page: str) -> None:
    assert '<tr data-evaluator="goal"><th scope="row">goal</th><td class="num n">4</td>' in page
    assert '<figure class="chart" data-evaluator="goal">' in page and "<svg" in page
    for anchor in ("summary", "charts", "breakdowns", "consistency", "failures", "transcripts"):
        assert f'href="#{anchor}"' in page and f'id="{anchor}"' in page


def test_html_nav_links_only_existing_sections() -> None:
    html = render_html(summarize([record()]))  # no evaluators, no failures
    for anchor in ("charts", "breakdowns", "consistency", "failures"):
        assert f'href="#{anchor}"' not in html and f'id="{anchor}"' not in html
    assert 'href="#transcripts"' in html and 'id="transcripts"' in html


def test_html_marks_the_ungrounded_claim_at_its_offsets(page: str) -> None:
    marks = re.findall(r'<mark class="claim ungrounded"[^>]*>([^<]*)</mark>', page)
    assert marks == ["3.1%"]
    conv = page.split('id="conv-3"')[1].split("</details>\n")[0]
    assert 'data-index="3" data-ungrounded="1"' in conv
    assert '<span class="claim grounded" title="grounded: get_churn.churn_rate">5.2%</span>' in conv
    assert 'up from <mark class="claim ungrounded"' in conv and ">3.1%</mark>.</div>" in conv


def test_highlight_claims_offsets_and_escaping() -> None:
    content = "a < b: 12% & 7 users"
    claims = [
        {"message": 0, "text": "12%", "start": 7, "end": 10, "status": "ungrounded"},
        {"message": 0, "text": "7", "start": 13, "end": 14, "status": "grounded", "source": "x"},
    ]
    html, marked = highlight_claims(content, claims)
    assert marked == 1
    assert html == (
        'a &lt; b: <mark class="claim ungrounded" title="ungrounded: no tool result matches this number">12%</mark>'
        ' &amp; <span class="claim grounded" title="grounded: x">7</span> users'
    )
    # offsets that do not match the text, or overlap an earlier claim, are left unmarked
    wrong = [{"text": "12%", "start": 6, "end": 9, "status": "ungrounded"}]
    assert highlight_claims(content, wrong) == ("a &lt; b: 12% &amp; 7 users", 0)
    overlap = [claims[0], {"text": "2%", "start": 8, "end": 10, "status": "ungrounded"}]
    assert highlight_claims(content, overlap)[1] == 1
    assert highlight_claims(content, [{"start": 0, "end": 99, "status": "ungrounded"}])[1] == 0


def test_html_cuts_long_tool_results() -> None:
    html = render_html(summarize([record()]), max_tool_chars=5)
    assert "<pre>{&quot;chu</pre>" in html and "… 16 more characters not shown" in html


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    write_run(root / "nightly", batch_records())
    write_run(root / "base", spread(57))
    write_run(root / "same", spread(57))
    write_run(root / "worse", spread(20))
    (root / "empty").mkdir()
    return root


def test_report_prints_markdown(runs: Path) -> None:
    result = runner.invoke(app, ["report", str(runs / "nightly")])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# Batch report: nightly\n")
    assert "| goal | 4 |" in result.stdout and "## Failed conversations" in result.stdout


def test_report_ignores_a_torn_last_line(runs: Path, tmp_path: Path) -> None:
    folder = write_run(tmp_path / "torn", batch_records()[:2])
    with (folder / "transcripts.jsonl").open("a") as fh:
        fh.write('{"case": {"scenario": "churn')  # a writer killed mid-line
    result = runner.invoke(app, ["report", str(folder)])
    assert result.exit_code == 0, result.output
    assert "| 2 | 2 | 0 | 0 |" in result.stdout


def test_report_writes_html(runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "report.html"
    result = runner.invoke(app, ["report", str(runs / "nightly"), "--html", str(out), "--worst", "2"])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "<title>Batch report: nightly</title>" in html
    assert html.count('class="conversation"') == 5
    assert f"wrote {out}" in flat(result.output) and "5 conversations" in result.output
    assert "# Batch report: nightly" in result.stdout


def test_the_written_path_is_never_wrapped(runs: Path, tmp_path: Path) -> None:
    out = tmp_path / ("a_long_folder_name_" * 8) / "report.html"  # wider than any terminal line
    result = runner.invoke(app, ["report", str(runs / "nightly"), "--html", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out} (" in result.output


@pytest.mark.parametrize("args", [["report", "missing"], ["report", "empty"], ["report", "nightly", "--worst", "-1"]])
def test_report_bad_input_exits_2(runs: Path, args: list[str]) -> None:
    result = runner.invoke(app, [args[0], str(runs / args[1]), *args[2:]])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_compare_exits_1_on_a_clearly_worse_run(runs: Path) -> None:
    result = runner.invoke(app, ["compare", str(runs / "base"), str(runs / "worse")])
    assert result.exit_code == 1, result.output
    assert "# Comparison: base → worse" in result.stdout
    assert "significantly worse" in result.stdout and "WORSE" in result.stdout


def test_compare_exits_0_on_identical_runs(runs: Path) -> None:
    result = runner.invoke(app, ["compare", str(runs / "base"), str(runs / "same")])
    assert result.exit_code == 0, result.output
    assert "No metric significantly worse" in result.stdout
    result = runner.invoke(app, ["compare", str(runs / "base"), str(runs / "worse"), "--metric", "completed"])
    assert result.exit_code == 0, result.output  # only the completion rate, which did not change


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ("base", "missing", "is not a folder"),
        ("missing", "base", "is not a folder"),
        ("base", "empty", "holds no batch (transcripts.jsonl is missing)"),
    ],
)
def test_compare_bad_folder_exits_2(runs: Path, a: str, b: str, message: str) -> None:
    result = runner.invoke(app, ["compare", str(runs / a), str(runs / b)])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("error:") and message in flat(result.output)
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--alpha", "0"], "alpha must be between 0 and 1"), (["--metric", "nope"], "unknown metric 'nope'"),
     (["--min-effect", "2"], "min_effect must be in [0, 1)")],
)
def test_compare_bad_options_exit_2(runs: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["compare", str(runs / "base"), str(runs / "same"), *args])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and message in flat(result.output)
