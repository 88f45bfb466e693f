"""Data views' public path (the seed's): the views live in the :mod:`app.views` package.

Example:
    >>> from app.data_views import DataProvider, VIEWS
    >>> "daily_briefing" in VIEWS
    True
"""

from app.views import *  # noqa: F403  (the same public surface)
from app.views import __all__ as _views_all
from app.views.briefing import DailyBriefing
from app.views.crisis import AnomalyReport, CrisisAnalysis
from app.views.financial import FinancialMetrics
from app.views.profile import CustomerProfile
from app.views.segments import CustomerList, CustomerSegment, CustomerSummary
from app.views.tickets import TicketMetrics, TicketSearch, TicketSummary
from app.views.timeline import BusinessTimeline

__all__ = [
    *_views_all,
    "DailyBriefing",
    "TicketMetrics",
    "FinancialMetrics",
    "CustomerSummary",
    "CustomerSegment",
    "CrisisAnalysis",
    "AnomalyReport",
    "CustomerList",
    "CustomerProfile",
    "TicketSummary",
    "TicketSearch",
    "BusinessTimeline",
]
