"""Loading and validating ``data/workflow_definitions.yaml``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from app.data_views import VIEWS
from app.datafiles import data_dir, load_model
from app.errors import DataFileError, UnknownNameError
from app.models import Workflow, WorkflowFile

__all__ = ["WorkflowCatalog", "workflows", "get_workflow", "AUTO"]

AUTO = "auto"
"""``--workflow auto``: pick the workflow from the merchant's opening message."""


class WorkflowCatalog:
    """Validated workflows by name, in file order."""

    def __init__(self, parsed: WorkflowFile, source: str = "workflows") -> None:
        self.by_name = {w.name: w for w in parsed.workflows}
        for w in parsed.workflows:
            for i, req in enumerate(w.data_requirements):
                if req.view not in VIEWS:
                    raise DataFileError(
                        f"{source}: field 'workflows.{w.name}.data_requirements.{i}.view': unknown view "
                        f"{req.view!r}; valid views: {', '.join(VIEWS)}"
                    )

    @classmethod
    def load(cls, path: Path) -> WorkflowCatalog:
        return cls(load_model(path, WorkflowFile), str(path))

    def names(self) -> list[str]:
        return list(self.by_name)

    def get(self, name: str) -> Workflow:
        try:
            return self.by_name[name]
        except KeyError:
            raise UnknownNameError("workflow", name, [*self.by_name, AUTO]) from None

    def refresh_seconds(self, view: str) -> int | None:
        """The shortest refresh interval any workflow declares for ``view`` (None if none does)."""
        found = [r.refresh_seconds for w in self.by_name.values() for r in w.data_requirements if r.view == view]
        return min(found) if found else None


@cache
def _catalog(path: Path) -> WorkflowCatalog:
    return WorkflowCatalog.load(path)


def workflows() -> WorkflowCatalog:
    """The workflow catalog of the current data folder."""
    return _catalog(data_dir() / "workflow_definitions.yaml")


def get_workflow(name: str) -> Workflow:
    """Workflow by name; raises :class:`UnknownNameError` listing valid names."""
    return workflows().get(name)
