"""The format of ``data/rubrics.yaml``: the judge's rubric library.

Each criterion is graded as its own item: a question, what passes and what fails, and few-shot
examples (a short conversation excerpt with its verdict and reason), at least one passing and
one failing, so the judge sees where the line is. The format is described in ``data/README.md``;
the file is loaded with the rest of the data folder by :class:`~app.catalog.Catalog`, and
``evaluation.yaml``'s ``judge.criteria`` must name criteria defined here.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from app.models import StrictModel

__all__ = ["RubricExample", "Rubric", "RubricLibrary"]

_Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", description="snake_case criterion name")]


class RubricExample(StrictModel):
    """A graded excerpt shown to the judge as a few-shot example."""

    conversation: str = Field(min_length=1, description="Excerpt: MERCHANT:/CJ: lines and [tool ...] results.")
    passed: bool = Field(description="The verdict on this criterion.")
    reason: str = Field(min_length=1, description="One sentence citing the excerpt.")


class Rubric(StrictModel):
    """One criterion: what the judge answers, what passes, what fails, and graded examples."""

    question: str = Field(min_length=1, description="The question the judge answers for this criterion.")
    pass_when: str = Field(min_length=1, description="What a passing conversation does.")
    fail_when: str = Field(min_length=1, description="What makes a conversation fail.")
    examples: list[RubricExample] = Field(min_length=2, description="At least one passing and one failing example.")

    @model_validator(mode="after")
    def _both_verdicts(self) -> Rubric:
        if {e.passed for e in self.examples} != {True, False}:
            raise ValueError("examples need at least one passing and one failing example")
        return self


class RubricLibrary(StrictModel):
    """The whole ``data/rubrics.yaml``."""

    version: int = Field(ge=1)
    criteria: dict[_Name, Rubric] = Field(min_length=1, description="Criterion name -> rubric.")
