"""The universal core in the operations store: entities, interventions, exposures, outcomes, segments, lineage.

One schema for every industry (seed 001): what differs between a telecom subscriber and a retail
shopper lives in the JSON columns (``demographics``, ``preferences``, ``attributes``), validated
on write against the industry's JSON Schema (:mod:`app.core.industries`). Money is in minor units
(``*_cents``; an exposure's cost in millionths, ``cost_micros``), scores are 0-100 and
``data_quality_score`` 0-1.

JSON columns are SQLAlchemy's ``JSON`` with a PostgreSQL variant: ``JSONB`` there, with GIN
indexes on the attribute columns, and JSON text in SQLite, where ``column["key"]`` compiles to
JSON1's ``json_extract``. Every imported or loaded row has a ``core_lineage`` row naming its source
record and the import run (``core_import_runs``) that wrote it.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from app.storage.ops_meta import ops_metadata

__all__ = [
    "JSON_TYPE",
    "core_entities",
    "core_interventions",
    "core_exposures",
    "core_outcomes",
    "core_segments",
    "core_import_runs",
    "core_lineage",
    "CORE_TABLES",
]

JSON_TYPE = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
"""JSONB on PostgreSQL, JSON text (queried with JSON1) on SQLite; Python None is SQL NULL, not JSON null."""


def _gin(name: str, table: Table, column: str) -> None:
    """A GIN index on a JSONB column, created on PostgreSQL only (SQLite has no use for it)."""
    Index(name, table.c[column], postgresql_using="gin").ddl_if(dialect="postgresql")


core_entities = Table(
    "core_entities",
    ops_metadata,
    Column("entity_id", Integer, primary_key=True, autoincrement=True),
    Column("industry", String(32), nullable=False, doc="the industry extension its attributes follow"),
    Column("entity_type", String(50), nullable=False, doc="individual | household | business | property"),
    Column("external_id", String(255), nullable=False, doc="the id in the source system"),
    Column("segment_id", String(100), nullable=True),
    Column("subsegment_ids", JSON_TYPE, nullable=True, doc="JSON list of segment ids"),
    Column("cohort_id", String(100), nullable=True),
    Column("lifecycle_stage", String(50), nullable=True, doc="prospect | new | active | at_risk | churned"),
    Column("tenure_days", Integer, nullable=True),
    Column("first_interaction_date", Date, nullable=True),
    Column("last_interaction_date", Date, nullable=True),
    Column("lifetime_value_cents", BigInteger, nullable=True, doc="minor units of currency"),
    Column("currency", String(3), nullable=True),
    Column("current_value_score", Float, nullable=True, doc="0-100"),
    Column("risk_score", Float, nullable=True, doc="0-100 churn or default risk"),
    Column("engagement_score", Float, nullable=True, doc="0-100"),
    Column("responsiveness_score", Float, nullable=True, doc="0-100"),
    Column("demographics", JSON_TYPE, nullable=True),
    Column("preferences", JSON_TYPE, nullable=True),
    Column("attributes", JSON_TYPE, nullable=True, doc="the industry extension, validated by its JSON Schema"),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("data_quality_score", Float, nullable=True, doc="0-1: share of the source fields read that had a value"),
    UniqueConstraint("industry", "entity_type", "external_id", name="core_entities_identity"),
    Index("core_entities_segment", "segment_id"),
    Index("core_entities_lifecycle", "lifecycle_stage"),
    Index("core_entities_value", "lifetime_value_cents"),
    Index("core_entities_updated", "updated_at"),
)
_gin("core_entities_attributes_gin", core_entities, "attributes")
_gin("core_entities_demographics_gin", core_entities, "demographics")

core_interventions = Table(
    "core_interventions",
    ops_metadata,
    Column("intervention_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False),
    Column("type", String(50), nullable=False, doc="campaign | trigger | test | policy"),
    Column("category", String(100), nullable=True, doc="acquisition | retention | upsell | winback"),
    Column("channels", JSON_TYPE, nullable=False, doc="JSON list: email, sms, push, mail, call, display"),
    Column("primary_channel", String(50), nullable=True),
    Column("content_template", Text, nullable=True),
    Column("target_segments", JSON_TYPE, nullable=True, doc="JSON list of segment ids"),
    Column("inclusion_criteria", JSON_TYPE, nullable=True),
    Column("exclusion_criteria", JSON_TYPE, nullable=True),
    Column("start_at", DateTime, nullable=True),
    Column("end_at", DateTime, nullable=True),
    Column("schedule_type", String(50), nullable=True, doc="immediate | scheduled | triggered | recurring"),
    Column("schedule_details", JSON_TYPE, nullable=True),
    Column("budget_cents", BigInteger, nullable=True),
    Column("max_exposures_per_entity", Integer, nullable=True, doc="cap per entity (null: none)"),
    Column("min_days_between_exposures", Integer, nullable=True, doc="spacing per entity (null: none)"),
    Column("offer_details", JSON_TYPE, nullable=True),
    Column("compliance_flags", JSON_TYPE, nullable=True),
    Column("meta", JSON_TYPE, nullable=True),
    Column("status", String(16), nullable=False, doc="draft -> approved -> active <-> paused -> completed"),
    Column("status_changed_at", DateTime, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(255), nullable=False),
    Index("core_interventions_status", "status"),
)

core_exposures = Table(
    "core_exposures",
    ops_metadata,
    Column("exposure_id", Integer, primary_key=True, autoincrement=True),
    Column("entity_id", Integer, ForeignKey("core_entities.entity_id"), nullable=False),
    Column("intervention_id", Integer, ForeignKey("core_interventions.intervention_id"), nullable=False),
    Column("channel", String(50), nullable=False),
    Column("exposed_at", DateTime, nullable=False),
    Column("creative_variant", String(100), nullable=True),
    Column("personalized_content", JSON_TYPE, nullable=True),
    Column("delivery_status", String(50), nullable=False, doc="sent | delivered | bounced | blocked"),
    Column("delivery_metadata", JSON_TYPE, nullable=True),
    Column("cost_micros", BigInteger, nullable=True, doc="millionths of the currency unit"),
    Column("exposure_number", Integer, nullable=False, doc="the entity's Nth exposure to this intervention"),
    Column("days_since_last_exposure", Integer, nullable=True, doc="since the entity's previous exposure to it"),
    Column("total_previous_exposures", Integer, nullable=False, doc="the entity's exposures to any intervention before"),
    Column("context", JSON_TYPE, nullable=True),
    Index("core_exposures_entity_time", "entity_id", "exposed_at"),
    Index("core_exposures_intervention_time", "intervention_id", "exposed_at"),
    Index("core_exposures_channel_time", "channel", "exposed_at"),
)

core_outcomes = Table(
    "core_outcomes",
    ops_metadata,
    Column("outcome_id", Integer, primary_key=True, autoincrement=True),
    Column("entity_id", Integer, ForeignKey("core_entities.entity_id"), nullable=False),
    Column("exposure_id", Integer, ForeignKey("core_exposures.exposure_id"), nullable=True, doc="null: organic"),
    Column("outcome_type", String(100), nullable=False, doc="one of the entity's industry outcome types"),
    Column("outcome_at", DateTime, nullable=False),
    Column("value_cents", BigInteger, nullable=True),
    Column("outcome_count", Integer, nullable=False, default=1),
    Column("attribution_model", String(50), nullable=True, doc="last_touch | first_touch | linear | ml_model"),
    Column("attribution_weight", Float, nullable=False, default=1.0, doc="0-1"),
    Column("meta", JSON_TYPE, nullable=True),
    Index("core_outcomes_entity_time", "entity_id", "outcome_at"),
    Index("core_outcomes_type_time", "outcome_type", "outcome_at"),
    Index("core_outcomes_exposure", "exposure_id"),
)

core_segments = Table(
    "core_segments",
    ops_metadata,
    Column("segment_id", String(100), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=True),
    Column("definition_type", String(50), nullable=False, doc="rule_based | ml_model | manual | imported"),
    Column("definition_rules", JSON_TYPE, nullable=True),
    Column("current_size", Integer, nullable=False, default=0),
    Column("size_history", JSON_TYPE, nullable=False, doc="JSON list of {at, size}, oldest first"),
    Column("avg_lifetime_value_cents", BigInteger, nullable=True),
    Column("avg_response_rate", Float, nullable=True),
    Column("avg_conversion_rate", Float, nullable=True),
    Column("trait_distributions", JSON_TYPE, nullable=True),
    Column("behavioral_patterns", JSON_TYPE, nullable=True),
    Column("preference_profiles", JSON_TYPE, nullable=True),
    Column("industry_metrics", JSON_TYPE, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("is_active", Boolean, nullable=False, default=True),
)

core_import_runs = Table(
    "core_import_runs",
    ops_metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("template", String(100), nullable=False, doc="the mapping template, or world for a generated world"),
    Column("industry", String(32), nullable=False),
    Column("source_system", String(100), nullable=False),
    Column("source", String(500), nullable=False, doc="the file read, or the world's scenario/merchant/seed"),
    Column("as_of", Date, nullable=False, doc="the day the data describes"),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=True),
    Column("records_read", Integer, nullable=False, default=0),
    Column("records_imported", Integer, nullable=False, default=0),
    Column("records_rejected", Integer, nullable=False, default=0),
)

core_lineage = Table(
    "core_lineage",
    ops_metadata,
    Column("lineage_id", Integer, primary_key=True, autoincrement=True),
    Column("source_system", String(100), nullable=False),
    Column("source_table", String(100), nullable=False),
    Column("source_record_id", String(255), nullable=False),
    Column("dest_table", String(64), nullable=False),
    Column("dest_id", String(100), nullable=False),
    Column("run_id", Integer, ForeignKey("core_import_runs.run_id"), nullable=False),
    Column("transformation", String(100), nullable=False, doc="the template (or world loader) that made the row"),
    Column("processed_at", DateTime, nullable=False),
    Index("core_lineage_dest", "dest_table", "dest_id"),
    Index("core_lineage_source", "source_system", "source_table", "source_record_id"),
    Index("core_lineage_run", "run_id"),
)

CORE_TABLES: tuple[Table, ...] = (
    core_entities,
    core_interventions,
    core_exposures,
    core_outcomes,
    core_segments,
    core_import_runs,
    core_lineage,
)
"""The tables of operations-store migration 7, in creation order."""
