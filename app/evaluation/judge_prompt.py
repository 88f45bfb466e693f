"""What the judge reads: the conversation with the tool results CJ saw, and the rubric with examples.

The conversation text holds every merchant and CJ message, CJ's tool calls with their arguments,
and the text of each tool result CJ received -- the same text CJ read -- so the judge can check
accuracy against the data. Each tool result is cut at ``tool_result_chars`` characters and the
whole text at ``max_transcript_chars`` (both in ``data/evaluation.yaml``); a cut is marked with
how many characters were left out, and the prompt states both budgets.

Example:
    >>> from app.catalog import Catalog
    >>> text = rubric_text(["accuracy"], Catalog.default().rubrics)
    >>> text.splitlines()[0]
    '## accuracy'
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from app.formats.rubrics import RubricLibrary
from app.transcript import Transcript

__all__ = ["conversation_text", "rubric_text", "instructions", "ANSWER_FORMAT"]

ANSWER_FORMAT = (
    'Answer with one JSON object and nothing else: {"verdicts": [{"criterion": "<name>", "passed": true|false, '
    '"reason": "<one sentence citing the conversation>"}, ...]} with exactly one verdict per criterion.'
)


def _cut(text: str, budget: int) -> str:
    if len(text) <= budget:
        return text
    return f"{text[:budget]} [... {len(text) - budget} more characters cut]"


def conversation_text(t: Transcript, max_chars: int, tool_chars: int) -> str:
    """The conversation as the judge reads it, within the character budgets."""
    lines = [f"Merchant stress level: {t.merchant_context.get('stress_level', 'unknown')}"]
    for m in t.messages:
        if m.role == "merchant":
            lines.append(f"MERCHANT: {m.content}")
        elif m.role == "cj":
            for call in m.tool_calls or ():
                lines.append(f"[CJ calls {call.name} {json.dumps(call.args, sort_keys=True)}]")
            if m.content:
                lines.append(f"CJ: {m.content}")
        else:
            lines.append(f"[tool {m.name} -> {m.status}] {_cut(m.content.strip(), tool_chars)}")
    return _cut("\n".join(lines), max_chars)


def rubric_text(criteria: Sequence[str], library: RubricLibrary) -> str:
    """Each criterion as its own section: question, pass and fail conditions, graded examples."""
    sections = []
    for name in criteria:
        r = library.criteria[name]
        parts = [f"## {name}", f"Question: {r.question}", f"Pass: {r.pass_when}", f"Fail: {r.fail_when}"]
        for i, ex in enumerate(r.examples, 1):
            verdict = "PASS" if ex.passed else "FAIL"
            parts.append(f"Example {i} ({verdict}: {ex.reason})\n{ex.conversation.rstrip()}")
        sections.append("\n".join(parts))
    return "\n\n".join(sections)


def instructions(criteria: Sequence[str], library: RubricLibrary, max_chars: int, tool_chars: int) -> str:
    """The judge's system prompt: the task, the budgets, the rubric and the answer format."""
    return (
        "You grade conversations between CJ, an AI copilot for subscription e-commerce merchants, and a merchant. "
        "Judge only CJ's replies. Lines in [brackets] are CJ's tool calls and the tool results CJ received: they "
        "are the data CJ had, so check CJ's numbers and names against them. Each tool result is cut at "
        f"{tool_chars} characters and the conversation at {max_chars}; a cut is marked, and a claim about data "
        "behind a cut is not evidence of an error.\n\n"
        "Grade each criterion separately, pass or fail, with a one-sentence reason.\n\n"
        f"{rubric_text(criteria, library)}\n\n{ANSWER_FORMAT}"
    )
