"""The HTML report rendered by a real browser: Debian's Chromium driven by Playwright.

Skipped locally, with the reason, when Chromium or Playwright is missing; ``.ci/run`` installs
both and sets ``CJSIM_REQUIRE_BROWSER=1``, which turns a missing browser into a failure.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.batch.records import BatchManifest, CaseKey, RunDir, RunRecord
from app.cli import app
from app.evaluation.registry import DETERMINISTIC_KEYS, default_evaluators, evaluate
from app.simulation import RunConfig, run_conversation
from tests.conftest import cached_agent

CHROMIUM = os.environ.get("CJSIM_CHROMIUM", "/usr/bin/chromium")
INVENTED = "$987,654"


def _browser_or_skip():
    missing = []
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing.append("the playwright package (pip install -e '.[dev]')")
        sync_playwright = None
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if missing:
        reason = "browser test needs " + " and ".join(missing)
        if os.environ.get("CJSIM_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + "; CJSIM_REQUIRE_BROWSER=1 requires it")
        pytest.skip(reason)
    return sync_playwright


def _record(cfg: RunConfig, invent: bool) -> RunRecord:
    transcript = run_conversation(cfg, provider=cached_agent(cfg.scenario, cfg.merchant, cfg.seed))
    if invent:  # CJ states a number no tool gave it: the grounding evaluator must flag it
        i = next(i for i, m in enumerate(transcript.messages) if m.role == "cj" and m.content)
        transcript.messages[i].content += f" Revenue at risk is {INVENTED}."
    scores = evaluate(transcript, default_evaluators(keys=DETERMINISTIC_KEYS))
    case = CaseKey(scenario=cfg.scenario, merchant=cfg.merchant, workflow=cfg.workflow, seed=cfg.seed)
    return RunRecord(case=case, status="ok", transcript=transcript, scores=scores)


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = RunDir(tmp_path_factory.mktemp("runs") / "browser")
    run.write_manifest(
        BatchManifest(
            name="browser", scenarios=["growth_stall", "churn_spike"], merchants=["marcus_thompson"],
            workflows=["daily_briefing", "crisis_response"], seeds=[0], cj_model="rules",
            merchant_model="script", max_turns=8,
        )
    )
    run.append(_record(RunConfig("growth_stall", "marcus_thompson", "daily_briefing", 0), invent=False))
    run.append(_record(RunConfig("churn_spike", "marcus_thompson", "crisis_response", 0), invent=True))
    html = run.path / "report.html"
    result = CliRunner().invoke(app, ["report", str(run.path), "--html", str(html)])
    assert result.exit_code == 0, result.output
    return html


def test_report_renders_summary_viewer_and_highlights(report_file: Path) -> None:
    sync_playwright = _browser_or_skip()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which(CHROMIUM) or CHROMIUM,
            args=["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            requests: list[str] = []
            page.on("request", lambda req: requests.append(req.url))
            page.goto(report_file.as_uri())

            # the summary is rendered with the real numbers: 2 conversations, grounding 1 of 2
            summary = page.locator("#summary")
            assert summary.is_visible()
            assert "2" in summary.locator("td.total").inner_text()
            grounding_row = page.locator('#evaluator-summary tr[data-evaluator="grounding"]')
            assert re.search(r"50\.0%", grounding_row.locator("td.pass-rate").inner_text())
            assert page.locator("figure.chart[data-evaluator='grounding'] svg").count() == 1

            # a conversation is collapsed until clicked, then shows its messages and tool calls
            conv = page.locator('details.conversation[data-case="churn_spike/marcus_thompson/crisis_response/0"]')
            first_message = conv.locator("li.message").first
            assert not first_message.is_visible()
            conv.locator(":scope > summary").click()
            assert first_message.is_visible()
            assert conv.locator(".tool-call code.tool-name").first.is_visible()

            # the invented number is highlighted in place, and only there
            mark = conv.locator("mark.claim.ungrounded")
            assert mark.count() == 1
            assert mark.inner_text() == INVENTED
            assert mark.is_visible()
            background = mark.evaluate("el => getComputedStyle(el).backgroundColor")
            assert background not in ("rgba(0, 0, 0, 0)", "transparent")
            clean = page.locator('details.conversation[data-case="growth_stall/marcus_thompson/daily_briefing/0"]')
            assert clean.locator("mark.claim.ungrounded").count() == 0

            # the "with ungrounded claims" filter hides the clean conversation
            page.select_option("#conv-verdict", "ungrounded")
            assert clean.is_hidden() and conv.is_visible()

            assert errors == []
            assert all(url.startswith("file://") for url in requests), requests  # self-contained
        finally:
            browser.close()
