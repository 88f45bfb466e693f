"""The universal core: one cross-industry schema of entities, interventions, exposures, outcomes and segments.

Tables live in the operations store (:mod:`app.storage.ops_core`, migration 7). Industry
extensions (:mod:`app.core.industries`) validate entity attributes with a JSON Schema per
industry; mapping templates (:mod:`app.core.templates`, :mod:`app.core.importer`) import source
files with lineage; :mod:`app.core.world_core` writes a generated world as retail. See
docs/universal_core.md.
"""

from app.core.importer import ImportResult, import_file
from app.core.industries import Industry, get_industry, industries, industry_names
from app.core.interventions import (
    STATUSES,
    TRANSITIONS,
    InterventionIn,
    create_intervention,
    record_exposure,
    set_status,
)
from app.core.queries import find_entities, lineage_of
from app.core.records import EntityIn, OutcomeIn, SourceRef
from app.core.segments import refresh_segments
from app.core.templates import CoreTemplate, get_template, load_template, templates
from app.core.world_core import WorldLoadResult, load_world_into_core
from app.core.writer import CoreWriter

__all__ = [
    "Industry",
    "industries",
    "industry_names",
    "get_industry",
    "EntityIn",
    "OutcomeIn",
    "SourceRef",
    "CoreWriter",
    "CoreTemplate",
    "templates",
    "get_template",
    "load_template",
    "ImportResult",
    "import_file",
    "WorldLoadResult",
    "load_world_into_core",
    "InterventionIn",
    "STATUSES",
    "TRANSITIONS",
    "create_intervention",
    "set_status",
    "record_exposure",
    "refresh_segments",
    "find_entities",
    "lineage_of",
]
