"""CJ's workflows: ``workflow_definitions.yaml`` of a data folder, validated.

The :class:`WorkflowCatalog` lives in the :class:`~app.catalog.Catalog`; :func:`workflows` and
:func:`get_workflow` are shortcuts to the default catalog.
"""

from __future__ import annotations

from pathlib import Path

from app.datafiles import load_model
from app.errors import DataFileError, UnknownNameError
from app.models import Workflow, WorkflowFile
from app.tools import VIEW_TOOLS
from app.views import VIEWS, tool_names

__all__ = ["WorkflowCatalog", "workflows", "get_workflow", "AUTO"]

ALL_VIEWS = "all"
"""In ``tools_available``: every view's tool (actions are always named one by one)."""
CAPABILITY_TOOLS: tuple[str, ...] = tuple(tool_names())
_EVERY_VIEW_TOOL = frozenset(VIEW_TOOLS)

AUTO = "auto"
"""``--workflow auto``: pick the workflow from the merchant's opening message."""


class WorkflowCatalog:
    """Validated workflows by name, in file order, with what the graph and evaluators ask of them."""

    def __init__(self, parsed: WorkflowFile, source: str = "workflows") -> None:
        self.by_name = {w.name: _bind_tools(w, source) for w in parsed.workflows}
        for w in self.by_name.values():
            for i, req in enumerate(w.data_requirements):
                if req.view not in VIEWS:
                    raise DataFileError(
                        f"{source}: field 'workflows.{w.name}.data_requirements.{i}.view': unknown view "
                        f"{req.view!r}; valid views: {', '.join(VIEWS)}"
                    )
        # derived once here: the graph and every evaluator ask these for each message
        self._bound = {w.name: frozenset(w.tools_available) for w in self.by_name.values()}
        self._stage_tools = {
            w.name: frozenset(s.tool for s in w.conversation_flow if s.tool) for w in self.by_name.values()
        }
        self._refresh: dict[str, int] = {}
        for w in self.by_name.values():
            for r in w.data_requirements:
                self._refresh[r.view] = min(self._refresh.get(r.view, r.refresh_seconds), r.refresh_seconds)

    @classmethod
    def load(cls, path: Path) -> WorkflowCatalog:
        """Read and validate ``path`` (a ``workflow_definitions.yaml``)."""
        return cls(load_model(path, WorkflowFile), str(path))

    def names(self) -> list[str]:
        """Workflow names in file order."""
        return list(self.by_name)

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def get(self, name: str) -> Workflow:
        """Workflow by name; raises :class:`UnknownNameError` listing valid names."""
        try:
            return self.by_name[name]
        except KeyError:
            raise UnknownNameError("workflow", name, [*self.by_name, AUTO]) from None

    def bound_tools(self, name: str) -> frozenset[str]:
        """The tools ``name`` binds (every tool for a name outside the catalog, e.g. ``auto``)."""
        return self._bound.get(name, _EVERY_VIEW_TOOL)

    def stage_tools(self, name: str) -> frozenset[str]:
        """Tools that complete a stage of ``name`` (none for a name outside the catalog)."""
        return self._stage_tools.get(name, frozenset())

    def refresh_seconds(self, view: str) -> int | None:
        """The shortest refresh interval any workflow declares for ``view`` (None if none does)."""
        return self._refresh.get(view)


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


def workflows() -> WorkflowCatalog:
    """The workflows of the default catalog."""
    from app.catalog import Catalog  # the catalog imports this module

    return Catalog.default().workflows


def get_workflow(name: str) -> Workflow:
    """Workflow by name; raises :class:`UnknownNameError` listing valid names."""
    return workflows().get(name)
