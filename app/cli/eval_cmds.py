"""``cjsim batch`` and ``cjsim eval``: run many conversations, and re-score saved ones."""

from __future__ import annotations
