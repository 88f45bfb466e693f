"""Text used by the generator: ticket subject templates per category.

Templates may use ``{product}`` (one of the persona's products), ``{plan}`` (the subscriber's plan
name) and ``{n}`` (a small number). Keep them short: they are what a support inbox lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from app.models import TicketCategory

__all__ = ["TICKET_SUBJECTS", "subject_for"]

TICKET_SUBJECTS: Mapping[TicketCategory, tuple[str, ...]] = MappingProxyType(
    {
        TicketCategory.shipping_delay: (
            "Where is my box?",
            "Tracking hasn't updated in {n} days",
            "My {plan} still hasn't arrived",
            "Box delayed again this month",
            "Delivery date keeps moving",
            "Package stuck in transit",
        ),
        TicketCategory.fulfillment: (
            "Missing {product} from my box",
            "Received the wrong items",
            "Box arrived damaged",
            "Got two boxes this month",
            "{product} was left out of my order",
            "Item leaked during shipping",
        ),
        TicketCategory.billing: (
            "Charged twice this month",
            "Payment failed but card is fine",
            "Question about my last invoice",
            "Why was I charged before my box shipped?",
            "Refund not received yet",
            "Discount code didn't apply",
        ),
        TicketCategory.cancellation: (
            "Please cancel my subscription",
            "How do I cancel?",
            "Cancel before the next charge",
            "Want to pause or cancel my {plan}",
            "Cancellation not confirmed",
        ),
        TicketCategory.product_quality: (
            "{product} quality not what it used to be",
            "Disappointed with this month's {product}",
            "{product} arrived expired",
            "Not happy with the last {n} boxes",
            "Problem with {product}",
        ),
        TicketCategory.account: (
            "Can't log in to my account",
            "Update my shipping address",
            "Change email on my account",
            "Switch my plan to {plan}",
            "Password reset link not working",
        ),
        TicketCategory.general: (
            "Loved this month's {product}!",
            "Question about {product}",
            "Gift subscription question",
            "Suggestion for future boxes",
            "Do you ship to my area?",
            "Thank you for the great box",
        ),
    }
)
"""Ticket category -> subject templates."""


def subject_for(category: TicketCategory, index: int, product: str, plan: str, n: int) -> str:
    """Fill template ``index`` (taken modulo the template count) of ``category``."""
    templates = TICKET_SUBJECTS[category]
    return templates[index % len(templates)].format(product=product, plan=plan, n=n)
