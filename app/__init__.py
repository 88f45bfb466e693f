"""CJ Simulator: develop, simulate and evaluate CJ, a tool-using copilot for subscription merchants."""

__version__ = "0.1.0"
