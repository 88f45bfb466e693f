"""Customer health: components and score at a date, alerts from risk, feedback and the monitoring of
alert accuracy against what happened (DESIGN.md section 9, docs/health.md)."""

from app.health import store as _store  # noqa: F401  (registers health with every load: app.storage.derived)
