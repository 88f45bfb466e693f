"""Reading conversations: analysis shared by the offline models and the evaluators.

* :mod:`app.analysis.claims` -- the numbers, customers and tickets a text states, and the values
  tool results made available (what ``grounding`` grades, and what the hallucinating CJ variant
  perturbs);
* :mod:`app.analysis.arguments` -- tool arguments with the views' defaults filled in, so
  equivalent calls compare equal;
* :mod:`app.analysis.artifacts` -- values of a tool result's JSON by dotted path.

This package sits below both :mod:`app.policies` and :mod:`app.evaluation` and imports neither,
so what is graded never depends on how one particular CJ was built.
"""
