"""Evaluating conversations: claims, evaluators, batches, statistics and reports."""
