"""``cjsim report`` and ``cjsim compare``: summarise a batch, and gate on regressions between two."""

from __future__ import annotations
