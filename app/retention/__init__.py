"""Retention operations over orders: facts at a date, the alert decision, the priority queue, the brief,
audience exports and the playbook webhook (DESIGN.md section 9, docs/retention_ops.md)."""
