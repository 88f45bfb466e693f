"""Mapping templates: known answers of the template expressions, the telecom sample, malformed rows, lineage."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.core import get_template, import_file, load_template
from app.core.templates import CoreTemplate
from app.datafiles import data_dir
from app.errors import DataFileError, UnknownNameError
from app.storage.import_problems import RejectLog
from app.storage.ops import OpsStore
from app.storage.ops_core import core_entities, core_import_runs, core_lineage, core_outcomes

AS_OF = dt.date(2025, 2, 28)
NOW = dt.datetime(2025, 3, 1, 8, 0)
SAMPLE = data_dir() / "templates" / "samples" / "telco_churn_sample.csv"
HEADER = ["customerID", "gender", "SeniorCitizen", "Partner", "Dependents", "tenure", "PhoneService", "MultipleLines",
          "InternetService", "OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport", "StreamingTV",
          "StreamingMovies", "Contract", "PaperlessBilling", "PaymentMethod", "MonthlyCharges", "TotalCharges", "Churn"]
BASE = dict(zip(HEADER, ["0001-AAAAA", "Female", "0", "Yes", "No", "24", "Yes", "No", "DSL", "Yes", "No", "No", "No",
                         "No", "No", "Two year", "Yes", "Mailed check", "60.00", "1440.00", "No"], strict=True))


def _csv(path: Path, rows: list[dict[str, str]] | list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            w.writerow([r[h] for h in header] if isinstance(r, dict) else r)
    return path


def _telco(tmp_path: Path, *changes: dict[str, str]) -> Path:
    return _csv(tmp_path / "telco.csv", [BASE | {"customerID": f"{i:04d}-T"} | c for i, c in enumerate(changes)])


def _entities(store: OpsStore) -> dict[str, dict[str, Any]]:
    with store.engine.connect() as conn:
        return {r["external_id"]: dict(r) for r in conn.execute(select(core_entities)).mappings()}


def _outcomes(store: OpsStore) -> list[tuple[str, str, dt.datetime, int | None]]:
    with store.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(
            select(core_entities.c.external_id, core_outcomes.c.outcome_type, core_outcomes.c.outcome_at, core_outcomes.c.value_cents)
            .join(core_entities, core_entities.c.entity_id == core_outcomes.c.entity_id)))


# --------------------------------------------------------------------------- known answers


def test_telecom_expressions_known_answers(tmp_path: Path) -> None:
    path = _telco(
        tmp_path,
        {"tenure": "2", "Contract": "Month-to-month", "MonthlyCharges": "30.00", "TotalCharges": "1234.565"},
        {"tenure": "5", "Contract": "Month-to-month", "InternetService": "Fiber optic", "MonthlyCharges": "130.00"},
        {"tenure": "24", "Contract": "One year", "InternetService": "No", "OnlineSecurity": "No internet service",
         "OnlineBackup": "No internet service", "DeviceProtection": "No internet service",
         "TechSupport": "No internet service", "StreamingTV": "No internet service",
         "StreamingMovies": "No internet service"},
        {"tenure": "40", "Churn": "Yes", "MonthlyCharges": "70.35", "PhoneService": "No", "MultipleLines": "No phone service",
         "SeniorCitizen": "1", "gender": "Male"},
    )
    store = OpsStore.in_memory()
    result = import_file(store, get_template("telecom"), path, as_of=AS_OF, now=NOW)
    assert (result.read, result.imported, result.rejected, result.outcomes) == (4, 4, 0, 1)
    e = _entities(store)
    # lifecycle_stage: if(Churn = 'Yes', 'churned', tenure < 3, 'new', month-to-month and tenure < 12, 'at_risk', 'active')
    assert [e[f"{i:04d}-T"]["lifecycle_stage"] for i in range(4)] == ["new", "at_risk", "active", "churned"]
    assert [e[f"{i:04d}-T"]["segment_id"] for i in range(4)] == ["month_to_month", "month_to_month", "one_year", "two_year"]
    assert [e[f"{i:04d}-T"]["tenure_days"] for i in range(4)] == [60, 150, 720, 1200]
    assert e["0000-T"]["lifetime_value_cents"] == 123457  # 1234.565 rounded half up once, at the cent
    assert e["0000-T"]["current_value_score"] == pytest.approx(25.0)  # 30 / 120 * 100
    assert e["0001-T"]["current_value_score"] == 100  # capped
    assert [e[f"{i:04d}-T"]["is_active"] for i in range(4)] == [True, True, True, False]
    assert e["0000-T"]["currency"] == "USD" and e["0000-T"]["entity_type"] == "individual"
    assert e["0003-T"]["demographics"] == {"gender": "male", "senior_citizen": True, "partner": True, "dependents": False}
    assert e["0000-T"]["preferences"] == {"paperless_billing": True, "payment_method": "Mailed check"}
    assert e["0001-T"]["attributes"]["internet_service"] == "fiber_optic"
    none = e["0002-T"]["attributes"]
    assert none["internet_service"] == "none" and "online_security" not in none  # no internet: the add-ons are left out
    assert e["0003-T"]["attributes"]["phone_service"] is False and "multiple_lines" not in e["0003-T"]["attributes"]
    assert e["0000-T"]["attributes"] | {} == {
        "plan_type": "postpaid", "contract_type": "month_to_month", "tenure_months": 2, "monthly_spend": 30,
        "total_charges": 1234.565, "phone_service": True, "multiple_lines": False, "internet_service": "dsl",
        "online_security": True, "online_backup": False, "device_protection": False, "tech_support": False,
        "streaming_tv": False, "streaming_movies": False}
    assert all(x["data_quality_score"] == 1.0 for x in e.values())
    assert _outcomes(store) == [("0003-T", "churn", dt.datetime(2025, 2, 28), 7035)]


def test_retail_template_reads_the_audience_export(tmp_path: Path) -> None:
    header = ["run_date", "customer_id", "priority_tier", "priority_score", "priority_reason", "recommended_action",
              "retention_status", "churn_risk_level", "churn_risk_score", "is_frequency_drop", "is_status_inconsistent",
              "is_value_drop", "days_since_last_order", "last_order_date", "total_revenue", "total_orders",
              "avg_order_value", "value_proxy", "currency"]
    row = ["2025-04-22", "C1", "P1", "88.3", "reason", "action", "ACTIVE", "HIGH", "35", "true", "false", "false",
           "29", "2025-03-24", "3499.20", "62", "56.44", "583.20", "GBP"]
    rows = [row, [*row[:1], "C2", *row[2:12], "30", "2025-03-23", *row[14:]],
            [*row[:1], "C3", *row[2:6], "INACTIVE", *row[7:12], "90", "2025-01-22", *row[14:]],
            [*row[:1], "C4", *row[2:6], "DORMANT", *row[7:]]]
    store = OpsStore.in_memory()
    log = RejectLog()
    result = import_file(store, get_template("retail"), _csv(tmp_path / "audience.csv", rows, header), as_of=AS_OF, now=NOW, log=log)
    assert (result.imported, result.rejected, result.outcomes) == (3, 1, 3)
    (reject,) = [x for r in log.reasons.values() for x in r.examples]
    assert (reject.line, reject.reason, reject.value) == (5, "retention_status: not one of ACTIVE, AT_RISK, INACTIVE", "DORMANT")
    e = _entities(store)
    # the seed's CASE: under 30 days active, under 90 at risk, else churned
    assert [e[c]["lifecycle_stage"] for c in ("C1", "C2", "C3")] == ["active", "at_risk", "churned"]
    assert e["C1"]["risk_score"] == pytest.approx(50.0) and e["C1"]["lifetime_value_cents"] == 349920
    assert (e["C1"]["segment_id"], e["C1"]["cohort_id"], e["C1"]["currency"]) == ("active", "P1", "GBP")
    assert e["C1"]["last_interaction_date"] == dt.date(2025, 3, 24)
    assert (e["C1"]["is_active"], e["C3"]["is_active"]) == (True, False)
    assert e["C1"]["attributes"] == {"total_orders": 62, "avg_order_value": 56.44, "days_since_last_order": 29,
                                     "retention_status": "ACTIVE", "priority_tier": "P1"}
    assert ("C1", "purchase", dt.datetime(2025, 3, 24), None) in _outcomes(store)


# --------------------------------------------------------------------------- the telecom sample


def test_the_telecom_sample_imports_with_hand_checked_values() -> None:
    store = OpsStore.in_memory()
    log = RejectLog()
    result = import_file(store, get_template("telecom"), SAMPLE, as_of=AS_OF, now=NOW, log=log)
    assert (result.read, result.imported, result.rejected, result.outcomes) == (200, 197, 3, 50)
    assert sorted((x.line, x.reason) for r in log.reasons.values() for x in r.examples) == [
        (19, "TotalCharges: empty"), (90, "TotalCharges: empty"), (153, "TotalCharges: empty")]
    e = _entities(store)
    # first data line: 1186-KEMUB,Female,1,No,No,13,Yes,Yes,DSL,No,Yes,No,No,No,No,Two year,Yes,Electronic check,53.25,712.03,No
    k = e["1186-KEMUB"]
    assert (k["segment_id"], k["lifecycle_stage"], k["tenure_days"], k["lifetime_value_cents"]) == ("two_year", "active", 390, 71203)
    assert k["current_value_score"] == pytest.approx(53.25 / 120 * 100)
    assert k["attributes"]["monthly_spend"] == 53.25 and k["attributes"]["multiple_lines"] is True
    assert k["demographics"]["senior_citizen"] is True
    churned = {x for x, _, _, _ in _outcomes(store)}
    with SAMPLE.open(newline="", encoding="utf-8") as fh:
        expected = {r["customerID"] for r in csv.DictReader(fh) if r["Churn"] == "Yes" and r["TotalCharges"].strip()}
    assert churned == expected


def test_every_imported_record_has_lineage(tmp_path: Path) -> None:
    store = OpsStore.in_memory()
    result = import_file(store, get_template("telecom"), SAMPLE, as_of=AS_OF, now=NOW)
    with store.engine.connect() as conn:
        lin = conn.execute(select(core_lineage).where(core_lineage.c.run_id == result.run_id)).mappings().all()
        entity_ids = set(conn.execute(select(core_entities.c.entity_id)).scalars())
        outcome_ids = set(conn.execute(select(core_outcomes.c.outcome_id)).scalars())
        run = conn.execute(select(core_import_runs)).mappings().one()
    assert {int(r["dest_id"]) for r in lin if r["dest_table"] == "core_entities"} == entity_ids
    assert {int(r["dest_id"]) for r in lin if r["dest_table"] == "core_outcomes"} == outcome_ids
    assert len({r["source_record_id"] for r in lin if r["dest_table"] == "core_entities"}) == 197
    assert all(r["source_system"] == "telco_churn_export" and r["transformation"] == "telecom" and r["processed_at"] == NOW
               for r in lin)
    assert (run["records_read"], run["records_imported"], run["records_rejected"], run["as_of"]) == (200, 197, 3, AS_OF)


# --------------------------------------------------------------------------- malformed rows


def test_malformed_rows_are_rejected_with_line_and_reason(tmp_path: Path) -> None:
    path = _telco(
        tmp_path,
        {},  # line 2: fine
        {"TotalCharges": " "},  # 3
        {"TotalCharges": "1,440.00"},  # 4
        {"Contract": "Three year"},  # 5
        {"customerID": "0000-T"},  # 6: the id of line 2
        {"tenure": "2.5"},  # 7: tenure_months must be whole
        {"MonthlyCharges": "abc"},  # 8
        {"Churn": "Maybe"},  # 9
    )
    with path.open("a", encoding="utf-8") as fh:
        fh.write("9999-X,Female,0\n")  # line 10: too few fields
    store = OpsStore.in_memory()
    log = RejectLog()
    result = import_file(store, get_template("telecom"), path, as_of=AS_OF, now=NOW, log=log)
    got = sorted((x.line, x.reason, x.value) for r in log.reasons.values() for x in r.examples)
    assert got == [
        (3, "TotalCharges: empty", ""),
        (4, "TotalCharges: not a number (expected up to 12 digits, an optional sign and up to 6 decimals)", "1,440.00"),
        (5, "Contract: not one of Month-to-month, One year, Two year", "Three year"),
        (6, "record id repeats the one on line 2", "0000-T"),
        (7, "attributes: tenure_months: 2.5 is not of type 'integer'", ""),
        (8, "MonthlyCharges: not a number (expected up to 12 digits, an optional sign and up to 6 decimals)", "abc"),
        (9, "Churn: not one of Yes, No", "Maybe"),
        (10, "expected 21 fields, found 3", ""),
    ]
    assert (result.read, result.imported, result.rejected) == (9, 1, 8)
    assert list(_entities(store)) == ["0000-T"]


# --------------------------------------------------------------------------- template mistakes


def _template(tmp_path: Path, **changes: Any) -> Path:
    import yaml

    doc = yaml.safe_load(get_template("telecom").model_dump_json()) | changes
    path = tmp_path / f"{doc['name']}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_template_mistakes_are_refused_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="'lifetime_value' is not a core column a template fills"):
        load_template(_template(tmp_path, computed_fields={"lifetime_value": "TotalCharges"}))
    with pytest.raises(DataFileError, match="external_id must be filled"):
        load_template(_template(tmp_path, source_fields={}))
    with pytest.raises(DataFileError, match="differs from the file name"):
        load_template(_template(tmp_path, name="other").rename(tmp_path / "elsewhere.yaml"))
    with pytest.raises(DataFileError, match="unknown_key"):
        load_template(_template(tmp_path, unknown_key=1))
    bad_expr = load_template(_template(tmp_path, computed_fields={"entity_type": "'individual'", "tenure_days": "eval(tenure)"}))
    with pytest.raises(DataFileError, match="field 'tenure_days': expression 'eval\\(tenure\\)': unknown function eval\\(\\)"):
        import_file(OpsStore.in_memory(), bad_expr, SAMPLE, as_of=AS_OF)
    wrong_type = load_template(_template(tmp_path, computed_fields={"entity_type": "'individual'", "is_active": "tenure"}))
    with pytest.raises(DataFileError, match="is_active: needs a condition"):
        import_file(OpsStore.in_memory(), wrong_type, SAMPLE, as_of=AS_OF)
    missing = _csv(tmp_path / "short.csv", [["x"]], ["customerID"])
    with pytest.raises(DataFileError, match="no column 'gender' in the file \\(its columns: customerID\\)"):
        import_file(OpsStore.in_memory(), get_template("telecom"), missing, as_of=AS_OF)
    unknown_industry = load_template(_template(tmp_path, industry="insurance"))
    with pytest.raises(UnknownNameError, match="unknown industry 'insurance'; known industries"):
        import_file(OpsStore.in_memory(), unknown_industry, SAMPLE, as_of=AS_OF)
    with pytest.raises(UnknownNameError, match="unknown template 'nope'; valid templates: retail, telecom"):
        get_template("nope")


def test_shipped_templates_load() -> None:
    for name in ("retail", "telecom"):
        assert isinstance(get_template(name), CoreTemplate)
    assert get_template(str(data_dir() / "templates" / "telecom.yaml")).name == "telecom"


def test_a_generated_world_loads_as_retail() -> None:
    from app.core import load_world_into_core
    from app.models import MerchantContext
    from app.scenarios import get_persona, get_scenario
    from app.world.generator import generate_world
    from app.world.world import WorldSpec

    store = OpsStore.in_memory()
    result = load_world_into_core(store, "churn_spike", "sarah_chen", seed=0, now=NOW)
    tables = generate_world(WorldSpec(get_scenario("churn_spike"), get_persona("sarah_chen"), MerchantContext())).snapshot()
    paid = [o for o in tables["orders"] if o["status"] == "paid"]
    assert result.entities == len(tables["customers"])
    assert result.outcomes == len(paid) + len(tables["refunds"])
    with store.engine.connect() as conn:
        query = select(core_lineage.c.source_table, func.count()).group_by(core_lineage.c.source_table)
        lin = {table: n for table, n in conn.execute(query)}
        c = tables["customers"][0]["customer_id"]
        value = conn.execute(select(core_entities.c.lifetime_value_cents).where(core_entities.c.external_id == c)).scalar()
    assert lin == {"customers": len(tables["customers"]), "subscriptions": len(tables["subscriptions"]),
                   "orders": len(paid), "refunds": len(tables["refunds"])}
    assert value == sum(o["amount_cents"] for o in paid if o["customer_id"] == c) - sum(
        r["amount_cents"] for r in tables["refunds"] if r["customer_id"] == c)


def test_the_published_template_schema_is_current() -> None:
    import json

    published = Path(__file__).resolve().parents[1] / "docs" / "schemas" / "core_template.schema.json"
    assert json.loads(published.read_text()) == CoreTemplate.model_json_schema(), (
        "regenerate docs/schemas/core_template.schema.json from CoreTemplate.model_json_schema()")


def test_batches_give_the_same_import(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import app.core.importer as importer

    whole = OpsStore.in_memory()
    import_file(whole, get_template("telecom"), SAMPLE, as_of=AS_OF, now=NOW)
    monkeypatch.setattr(importer, "BATCH_ROWS", 7)
    batched = OpsStore.in_memory()
    result = import_file(batched, get_template("telecom"), SAMPLE, as_of=AS_OF, now=NOW)
    assert (result.imported, result.rejected, result.outcomes) == (197, 3, 50)
    assert _entities(batched) == _entities(whole) and _outcomes(batched) == _outcomes(whole)
    path = _telco(tmp_path, *({} for _ in range(9)), {"customerID": "0000-T"})  # line 11 repeats line 2, batches apart
    log = RejectLog()
    import_file(OpsStore.in_memory(), get_template("telecom"), path, as_of=AS_OF, log=log)
    assert [(x.line, x.reason) for r in log.reasons.values() for x in r.examples] == [(11, "record id repeats the one on line 2")]


_CELLS = st.sampled_from(["", " ", "12", "0", "-3", "2.5", "1,440.00", "abc", "1e3", "99999999999999", "70.35", "Three year",
                          "Month-to-month", "Yes", "No"])


@given(st.lists(st.tuples(_CELLS, _CELLS, _CELLS, _CELLS), min_size=1, max_size=6))
@settings(max_examples=25)
def test_any_cells_give_a_correct_row_or_a_reason(cells: list[tuple[str, str, str, str]]) -> None:
    import tempfile
    from decimal import ROUND_HALF_UP, Decimal

    with tempfile.TemporaryDirectory() as tmp:
        path = _telco(Path(tmp), *({"tenure": t, "TotalCharges": c, "MonthlyCharges": m, "Contract": k} for t, c, m, k in cells))
        store = OpsStore.in_memory()
        log = RejectLog()
        result = import_file(store, get_template("telecom"), path, as_of=AS_OF, now=NOW, log=log)
    rejected = {x.line for r in log.reasons.values() for x in r.examples}
    assert result.imported + result.rejected == len(cells)
    entities = _entities(store)
    for i, (tenure, total, _, _) in enumerate(cells):
        key = f"{i:04d}-T"
        if key not in entities:
            continue  # rejected: its reason is in the log (at most 3 examples are kept per reason)
        e = entities[key]
        assert i + 2 not in rejected
        assert e["tenure_days"] == int(Decimal(tenure)) * 30
        assert e["lifetime_value_cents"] == int((Decimal(total) * 100).quantize(Decimal(1), ROUND_HALF_UP))


def test_imports_refresh_the_segments_their_entities_name(tmp_path: Path) -> None:
    from sqlalchemy import text

    from app.errors import InvalidArgumentError
    from app.storage.ops_core import core_segments

    store = OpsStore.in_memory()
    result = import_file(store, get_template("telecom"), SAMPLE, as_of=AS_OF, now=NOW)
    with SAMPLE.open(newline="", encoding="utf-8") as fh:
        kept = [r for r in csv.DictReader(fh) if r["TotalCharges"].strip()]
    with store.engine.connect() as conn:
        sizes = {r.segment_id: (r.current_size, r.size_history) for r in conn.execute(select(core_segments))}
    assert result.segments == 3
    assert sizes["month_to_month"] == (sum(r["Contract"] == "Month-to-month" for r in kept),
                                       [{"at": "2025-02-28", "size": sum(r["Contract"] == "Month-to-month" for r in kept)}])
    assert sum(size for size, _ in sizes.values()) == 197
    import_file(store, get_template("telecom"), SAMPLE, as_of=AS_OF + dt.timedelta(days=1), now=NOW)
    with store.engine.connect() as conn:
        history = conn.execute(select(core_segments.c.size_history).where(core_segments.c.segment_id == "one_year")).scalar()
        assert [h["at"] for h in history] == ["2025-02-28", "2025-03-01"]
        conn.execute(text("UPDATE core_segments SET industry_metrics = '{\"industry\": \"retail\"}' WHERE segment_id = 'one_year'"))
        conn.commit()
    with pytest.raises(InvalidArgumentError, match="segment 'one_year' belongs to the retail industry"):
        import_file(store, get_template("telecom"), SAMPLE, as_of=AS_OF, now=NOW)
