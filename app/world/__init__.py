"""Synthetic merchant worlds: the schema, the day-by-day generator, snapshots and loading."""
