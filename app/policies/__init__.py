"""Offline deterministic chat models: the rule-based CJ and the scripted merchant."""
