"""Recommended actions attached to segment and crisis views, derived from the view's own numbers."""

from __future__ import annotations

__all__ = ["crisis_actions", "segment_actions"]

_CRISIS_PLAYBOOK: dict[str, list[str]] = {
    "churn": [
        "Call or email the customers who cancelled this week to learn why and offer a save",
        "Review the top cancel reasons and fix the biggest one first",
        "Offer a pause or skip option before cancellation",
    ],
    "support": [
        "Add temporary support coverage until the backlog clears",
        "Publish a macro or FAQ for the top ticket category",
        "Prioritise urgent tickets and send proactive status updates",
    ],
    "shipping": [
        "Email affected subscribers proactively with a delay notice and new delivery estimate",
        "Escalate with the carrier and consider a backup carrier for pending shipments",
        "Offer a goodwill credit to customers with delayed boxes",
    ],
    "payment": [
        "Retry failed payments and send card-update reminders",
        "Check the payment processor's status for an outage or decline spike",
    ],
    "acquisition": [
        "Pause the worst-performing acquisition channels and shift budget to the best",
        "Refresh offers and creative; compare against competitor pricing",
    ],
    "orders": [
        "Email customers whose last order was 31-90 days ago with a reason to come back",
        "Check the storefront and checkout for errors, stock-outs or price changes",
    ],
    "refunds": [
        "Review the top refund reasons and the products and orders behind them",
        "Check packaging and the carrier if damaged or lost deliveries lead the list",
    ],
}


def crisis_actions(crisis_type: str, severity: str) -> list[str]:
    """Playbook steps for a crisis type; a single monitoring step when nothing was detected."""
    if severity in ("none", "low"):
        return [f"No action needed now; keep monitoring {crisis_type} indicators"]
    return list(_CRISIS_PLAYBOOK[crisis_type])


def segment_actions(segment: str, size: int, top_signals: list[tuple[str, int]]) -> list[str]:
    """Actions for a segment, led by what its dominant signal says."""
    if size == 0:
        return ["No customers in this segment right now; nothing to do"]
    actions: list[str] = []
    top = top_signals[0][0] if top_signals else None
    if top == "failed_payment":
        actions.append("Send card-update reminders and retry failed payments")
    elif top == "negative_ticket":
        actions.append("Follow up personally on open or negative support tickets")
    elif top == "skipped_box":
        actions.append("Offer a flexible plan or product swap to customers who skip boxes")
    elif top == "engagement_drop":
        actions.append("Run a re-engagement email with personalised product picks")
    base = {
        "high_value": ["Thank them with an exclusive perk or early access", "Invite them to a referral programme"],
        "at_risk": [f"Reach out to the {size} at-risk customers before their next billing date"],
        "new": ["Send an onboarding sequence and check in after the first box"],
        "churned": ["Run a win-back offer for recently churned customers", "Survey them on why they left"],
    }
    return actions + base[segment]
