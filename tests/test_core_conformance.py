"""Conformance of the universal core: the same tests on SQLite and on PostgreSQL.

Each test gets an operations store on a backend (a SQLite file, or a private schema on
``$CJSIM_TEST_PG_URL``; without it PostgreSQL cases skip, unless ``CJSIM_REQUIRE_POSTGRES=1``,
where they fail) and checks the core through its public functions only: migration 7, JSON
attributes written and queried, the status machine, exposure caps, imports with lineage.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from app.core import (
    EntityIn,
    InterventionIn,
    OutcomeIn,
    SourceRef,
    create_intervention,
    find_entities,
    get_template,
    import_file,
    lineage_of,
    record_exposure,
    set_status,
)
from app.core.writer import CoreWriter
from app.datafiles import data_dir
from app.errors import InvalidArgumentError
from app.storage.import_problems import RejectLog
from app.storage.ops import OPS_MIGRATIONS, OpsStore
from app.storage.ops_core import CORE_TABLES, core_entities, core_lineage, core_outcomes
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)

SAMPLE = data_dir() / "templates" / "samples" / "telco_churn_sample.csv"
AT = dt.datetime(2025, 3, 1, 9, 0)
AS_OF = dt.date(2025, 2, 28)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path: Path) -> OpsStore:
    if request.param == "sqlite":
        return OpsStore.from_url(f"sqlite:///{tmp_path / 'ops.db'}")
    return OpsStore.from_url(request.getfixturevalue("pg_schemas").new("core"))


def _sample() -> list[dict[str, str]]:
    with SAMPLE.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _people(store: OpsStore) -> list[int]:
    rows = [
        (EntityIn(entity_type="individual", external_id="A", segment_id="vip", lifecycle_stage="active", risk_score=12.5,
                  lifetime_value_cents=120_00, currency="USD", demographics={"country": "GB"},
                  attributes={"loyalty_tier": "gold", "return_rate": 0.1, "preferred_categories": ["tea"]}), "A"),
        (EntityIn(entity_type="individual", external_id="B", segment_id="vip", lifecycle_stage="at_risk",
                  attributes={"loyalty_tier": "silver", "return_rate": 0.25}), "B"),
        (EntityIn(entity_type="household", external_id="C", attributes={"loyalty_tier": "gold", "total_orders": 3}), "C"),
    ]
    with store.transaction() as conn:
        w = CoreWriter.start(conn, "retail", template="manual", source_system="crm", source="test", as_of=AS_OF, now=AT)
        ids = w.write_entities([(e, [SourceRef(system="crm", table="people", record_id=r)]) for e, r in rows])
        w.finish(read=3, rejected=0)
    return ids


def test_migration_7_creates_the_core_tables(store: OpsStore) -> None:
    assert store.version == OPS_MIGRATIONS[-1].version >= 7
    names = set(inspect(store.engine).get_table_names())
    assert {t.name for t in CORE_TABLES} <= names
    store.setup()  # idempotent
    assert store.version == OPS_MIGRATIONS[-1].version


def test_json_columns_round_trip_and_filter_alike(store: OpsStore) -> None:
    ids = _people(store)
    with store.engine.connect() as conn:
        row = conn.execute(select(core_entities).where(core_entities.c.entity_id == ids[0])).mappings().one()
        assert row["attributes"] == {"loyalty_tier": "gold", "return_rate": 0.1, "preferred_categories": ["tea"]}
        assert row["demographics"] == {"country": "GB"} and row["subsegment_ids"] is None  # None is SQL NULL
        assert conn.execute(select(func.count()).where(core_entities.c.subsegment_ids.is_(None))).scalar() == 3
        assert find_entities(conn, "retail", attributes={"loyalty_tier": "gold"}) == ["A", "C"]
        assert find_entities(conn, "retail", attributes={"return_rate": 0.25}) == ["B"]
        assert find_entities(conn, "retail", attributes={"total_orders": 3}) == ["C"]
        assert find_entities(conn, "retail", demographics={"country": "GB"}, segment_id="vip") == ["A"]
        assert find_entities(conn, "telecom", attributes={"loyalty_tier": "gold"}) == []


def test_json_storage_is_jsonb_with_gin_on_postgres_and_json1_text_on_sqlite(store: OpsStore) -> None:
    _people(store)
    with store.engine.connect() as conn:
        if store.engine.dialect.name == "postgresql":
            kind = conn.execute(text(
                "SELECT data_type FROM information_schema.columns WHERE table_name = 'core_entities' "
                "AND column_name = 'attributes' AND table_schema = current_schema()")).scalar()
            assert kind == "jsonb"
            index = conn.execute(text(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'core_entities_attributes_gin' "
                "AND schemaname = current_schema()")).scalar()
            assert index is not None and "USING gin" in index
        else:
            got = conn.execute(text(
                "SELECT external_id FROM core_entities WHERE json_extract(attributes, '$.loyalty_tier') = 'silver'")).all()
            assert got == [("B",)]
            indexes = {i["name"] for i in inspect(conn).get_indexes("core_entities")}
            assert "core_entities_attributes_gin" not in indexes


def test_attributes_are_validated_on_write(store: OpsStore) -> None:
    with store.transaction() as conn:
        w = CoreWriter.start(conn, "retail", template="manual", source_system="crm", source="t", as_of=AS_OF, now=AT)
        bad = EntityIn(entity_type="individual", external_id="X", attributes={"return_rate": "high"})
        with pytest.raises(InvalidArgumentError, match="return_rate: 'high' is not of type 'number'"):
            w.write_entities([(bad, [SourceRef(system="crm", table="people", record_id="X")])])
        entity = w.write_entities([(EntityIn(entity_type="individual", external_id="Y"),
                                    [SourceRef(system="crm", table="people", record_id="Y")])])[0]
        with pytest.raises(InvalidArgumentError, match="'churn' is not a retail outcome; known: purchase"):
            w.write_outcomes([(entity, OutcomeIn(outcome_type="churn", outcome_at=AT),
                               SourceRef(system="crm", table="events", record_id="1"))])


def test_status_machine_allows_only_legal_moves(store: OpsStore) -> None:
    with store.transaction() as conn:
        iv = create_intervention(conn, InterventionIn(name="Win back", type="campaign", channels=["email", "sms"]), AT)
        with pytest.raises(InvalidArgumentError, match="cannot move from draft to active; from draft it may move to: approved"):
            set_status(conn, iv, "active", AT)
        for status in ("approved", "active", "paused", "active", "completed"):
            assert set_status(conn, iv, status, AT) == status
        with pytest.raises(InvalidArgumentError, match="from completed it may move to: none"):
            set_status(conn, iv, "active", AT)
        with pytest.raises(InvalidArgumentError, match="unknown status 'live'"):
            set_status(conn, iv, "live", AT)
        with pytest.raises(InvalidArgumentError, match="no intervention 999"):
            set_status(conn, 999, "approved", AT)


def test_exposures_respect_status_channel_cap_and_spacing(store: OpsStore) -> None:
    a, b, _ = _people(store)
    with store.transaction() as conn:
        iv = create_intervention(conn, InterventionIn(
            name="Nudge", type="trigger", channels=["email"], max_exposures_per_entity=2, min_days_between_exposures=7), AT)
        with pytest.raises(InvalidArgumentError, match="is draft; only an active one"):
            record_exposure(conn, entity_id=a, intervention_id=iv, channel="email", at=AT)
        set_status(conn, iv, "approved", AT)
        set_status(conn, iv, "active", AT)
        first = record_exposure(conn, entity_id=a, intervention_id=iv, channel="email", at=AT, cost_micros=3500)
        with pytest.raises(InvalidArgumentError, match="'sms' is not one of"):
            record_exposure(conn, entity_id=a, intervention_id=iv, channel="sms", at=AT)
        with pytest.raises(InvalidArgumentError, match="exposed 3 day\\(s\\) ago; intervention .* needs 7"):
            record_exposure(conn, entity_id=a, intervention_id=iv, channel="email", at=AT + dt.timedelta(days=3))
        second = record_exposure(conn, entity_id=a, intervention_id=iv, channel="email", at=AT + dt.timedelta(days=8))
        with pytest.raises(InvalidArgumentError, match="has had 2 exposure\\(s\\) to intervention .*, its cap"):
            record_exposure(conn, entity_id=a, intervention_id=iv, channel="email", at=AT + dt.timedelta(days=30))
        other = record_exposure(conn, entity_id=b, intervention_id=iv, channel="email", at=AT)
        rows = {r.exposure_id: r for r in conn.execute(text(
            "SELECT exposure_id, exposure_number, days_since_last_exposure, total_previous_exposures FROM core_exposures"))}
    assert (rows[first].exposure_number, rows[first].days_since_last_exposure) == (1, None)
    assert (rows[second].exposure_number, rows[second].days_since_last_exposure, rows[second].total_previous_exposures) == (2, 8, 1)
    assert rows[other].exposure_number == 1


def test_telecom_import_is_identical_and_leaves_lineage_for_every_record(store: OpsStore) -> None:
    result = import_file(store, get_template("telecom"), SAMPLE, as_of=AS_OF, now=AT)
    assert (result.read, result.imported, result.rejected, result.outcomes) == (200, 197, 3, 50)
    with store.engine.connect() as conn:
        lineage = conn.execute(select(core_lineage.c.dest_table, func.count()).where(core_lineage.c.run_id == result.run_id)
                               .group_by(core_lineage.c.dest_table)).all()
        assert dict(lineage) == {"core_entities": 197, "core_outcomes": 50}
        entity = conn.execute(select(core_entities.c.entity_id).where(core_entities.c.external_id == "1186-KEMUB")).scalar()
        (row,) = lineage_of(conn, "core_entities", entity)
        assert (row["source_system"], row["source_table"], row["source_record_id"]) == ("telco_churn_export", "customers", "1186-KEMUB")
        fibre = find_entities(conn, "telecom", attributes={"internet_service": "fiber_optic", "phone_service": True})
        churned = conn.execute(select(func.count()).select_from(core_entities).where(core_entities.c.lifecycle_stage == "churned")).scalar()
    expected = sorted(r["customerID"] for r in _sample() if r["InternetService"] == "Fiber optic"
                      and r["PhoneService"] == "Yes" and r["TotalCharges"].strip())
    assert fibre == expected and len(expected) == 80 and churned == 50
    again = import_file(store, get_template("telecom"), SAMPLE, as_of=AS_OF, now=AT)  # updates, replaces outcomes
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(core_entities)).scalar() == 197
        assert conn.execute(select(func.count()).select_from(core_outcomes)).scalar() == 50
        assert conn.execute(select(func.count()).select_from(core_lineage).where(core_lineage.c.run_id == again.run_id)).scalar() == 247


def test_values_beyond_the_columns_are_rejected_lines_not_database_errors(store: OpsStore, tmp_path: Path) -> None:
    from tests.test_core_templates import _telco

    path = _telco(tmp_path, {}, {"tenure": "999999999999"}, {"TotalCharges": "999999999999.99", "tenure": "12"})
    log = RejectLog()
    result = import_file(store, get_template("telecom"), path, as_of=AS_OF, now=AT, log=log)
    reasons = sorted((x.line, x.reason) for r in log.reasons.values() for x in r.examples)
    assert (result.imported, result.rejected) == (2, 1)
    assert reasons == [(3, "tenure_days: Input should be less than or equal to 2147483647")]
    with store.engine.connect() as conn:
        big = conn.execute(select(core_entities.c.lifetime_value_cents).where(core_entities.c.external_id == "0002-T")).scalar()
    assert big == 99999999999999
