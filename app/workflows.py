"""Loading and validating ``data/workflow_definitions.yaml``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from app.datafiles import data_dir, load_model
from app.errors import DataFileError, UnknownNameError
from app.models import Workflow, WorkflowFile
from app.tools import VIEW_TOOLS
from app.views import VIEWS, tool_names

__all__ = ["WorkflowCatalog", "workflows", "get_workflow", "AUTO"]

ALL_VIEWS = "all"
"""In ``tools_available``: every view's tool (actions are always named one by one)."""
CAPABILITY_TOOLS: tuple[str, ...] = tuple(tool_names())

AUTO = "auto"
"""``--workflow auto``: pick the workflow from the merchant's opening message."""


class WorkflowCatalog:
    """Validated workflows by name, in file order."""

    def __init__(self, parsed: WorkflowFile, source: str = "workflows") -> None:
        self.by_name = {w.name: _bind_tools(w, source) for w in parsed.workflows}
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


def _bind_tools(workflow: Workflow, source: str) -> Workflow:
    """Expand ``all`` (every view's tool) and check each tool and stage tool against the registry."""
    field = f"{source}: field 'workflows.{workflow.name}"
    tools: list[str] = []
    for name in workflow.tools_available:
        for tool in VIEW_TOOLS if name == ALL_VIEWS else (name,):
            if tool not in CAPABILITY_TOOLS:
                raise DataFileError(
                    f"{field}.tools_available': unknown tool {tool!r}; valid tools: {', '.join(CAPABILITY_TOOLS)} "
                    f"(or {ALL_VIEWS!r} for every view)"
                )
            if tool not in tools:
                tools.append(tool)
    for i, stage in enumerate(workflow.conversation_flow):
        if stage.tool and stage.tool not in tools:
            raise DataFileError(
                f"{field}.conversation_flow.{i}.tool': stage {stage.id!r} needs tool {stage.tool!r}, "
                "which is not in tools_available; add it there"
            )
    return workflow.model_copy(update={"tools_available": tools})


@cache
def _catalog(path: Path) -> WorkflowCatalog:
    return WorkflowCatalog.load(path)


def workflows() -> WorkflowCatalog:
    """The workflow catalog of the current data folder."""
    return _catalog(data_dir() / "workflow_definitions.yaml")


def get_workflow(name: str) -> Workflow:
    """Workflow by name; raises :class:`UnknownNameError` listing valid names."""
    return workflows().get(name)
