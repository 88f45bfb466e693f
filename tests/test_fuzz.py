"""Fuzzing the inputs users and models control: data files, import mappings, CSV rows, tool arguments.

The property everywhere: a clear error that names the input, or a correct value; never another
exception (which the CLI would show as a traceback) and never a silent wrong value. Hypothesis
runs derandomized (see conftest.py), so failures reproduce.
"""

from __future__ import annotations

import csv
import io
import string
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.datafiles import load_model
from app.errors import CJSimError, DataFileError
from app.formats.rule_cj import RuleCJTemplates
from app.models import Persona, Scenario, WorkflowFile
from app.storage.importer import read_exports
from app.storage.mapping import load_mapping
from app.tools import ALL_TOOLS, call_tool
from app.views import by_tool
from tests.conftest import cached_agent

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "production"
FAST = settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20), st.dates(),
)  # fmt: skip
_keys = st.one_of(st.sampled_from(["id", "name", "version", "workflows", "plans", "tables", "columns", "expected",
                                   "merchant_goals", "patterns", "facts", "answers"]), st.text(string.ascii_lowercase, min_size=1, max_size=8))  # fmt: skip
_documents = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=5), max_leaves=20)
_raw_yaml = st.text(alphabet=string.printable + "ä€\t", max_size=200)


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def _names_the_file(exc: CJSimError, path: Path) -> None:
    assert str(path) in str(exc) or path.name in str(exc), str(exc)


@FAST
@given(doc=_documents, model=st.sampled_from([Persona, Scenario, WorkflowFile, RuleCJTemplates]))
def test_data_file_documents_load_or_name_the_file(tmp_path_factory, doc, model) -> None:
    path = _write(tmp_path_factory.mktemp("y"), "file.yaml", yaml.safe_dump(doc, allow_unicode=True, default_flow_style=False))
    try:
        load_model(path, model)
    except DataFileError as exc:
        _names_the_file(exc, path)


@FAST
@given(text=_raw_yaml, encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]))
def test_raw_yaml_text_loads_or_names_the_file(tmp_path_factory, text, encoding) -> None:
    path = _write(tmp_path_factory.mktemp("r"), "raw.yaml", text.encode(encoding, errors="replace"))
    try:
        load_model(path, Persona)
    except DataFileError as exc:
        _names_the_file(exc, path)


@FAST
@given(doc=_documents)
def test_mapping_documents_load_or_name_the_file(tmp_path_factory, doc) -> None:
    path = _write(tmp_path_factory.mktemp("m"), "mapping.yaml", yaml.safe_dump(doc, allow_unicode=True))
    try:
        load_mapping(path)
    except DataFileError as exc:
        _names_the_file(exc, path)


_cell = st.one_of(
    st.text(alphabet=string.printable, max_size=15),
    st.sampled_from(["", " ", "$59.00", "1e3", "5,00", "12 34", "(12.00)", "10/29/2024 10:47 AM", "2024-13-45", "paid",
                     "refunded", "cus_7001", "sub_90001", "-0", "NaN", "∞", "#1001"]),
)  # fmt: skip


@FAST
@given(rows=st.lists(st.lists(_cell, min_size=4, max_size=7), min_size=1, max_size=6))
def test_csv_rows_import_or_are_rejected_with_line_and_reason(tmp_path_factory, rows) -> None:
    header = (EXAMPLES / "orders.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    path = _write(tmp_path_factory.mktemp("c"), "orders.csv", buf.getvalue())
    try:
        result = read_exports({"orders": path}, EXAMPLES / "mapping.yaml")
    except CJSimError as exc:
        _names_the_file(exc, path)
        return
    physical_lines = buf.getvalue().count("\n") + 1  # a quoted cell may span lines; problems name physical lines
    for problem in result.problems:  # every rejected row says where and why
        assert problem.file == path.name and 2 <= problem.line <= physical_lines and problem.reason
    assert len(result.problems) <= len(rows)


_arg_values = st.one_of(_scalars, st.lists(_scalars, max_size=3), st.dictionaries(st.text(max_size=5), _scalars, max_size=2))


@FAST
@given(tool=st.sampled_from(ALL_TOOLS), args=st.dictionaries(
    st.one_of(st.sampled_from(["time_range", "segment", "limit", "query", "customer_id", "metrics", "note",
                               "filter", "sort_by", "days_before", "category", "sensitivity"]), st.text(max_size=8)),
    _arg_values, max_size=4))  # fmt: skip
def test_tool_arguments_from_a_model_answer_or_name_the_problem(tool, args) -> None:
    agent = cached_agent("growth_stall", "marcus_thompson", 0)
    try:
        text, data = call_tool(agent, tool, args)
    except CJSimError as exc:
        message = str(exc)
        assert tool in message or by_tool(tool).name in message, message  # names what was called
        return
    assert text and isinstance(data, dict)


# --------------------------------------------------------------------------- money grammar and expressions

_money_text = st.one_of(
    st.text(alphabet="0123456789.,-+()$€ eEUSD", max_size=12),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**9), max_value=10**9).map(str),
)


@FAST
@given(text=_money_text)
def test_money_is_read_exactly_or_rejected_with_the_reason(text) -> None:
    import re
    from decimal import Decimal

    from app.storage.money import PLAIN_NUMBER, MoneyError, parse_export_money, parse_plain_number

    try:
        value = parse_plain_number(text)
    except MoneyError as exc:
        assert repr(text) in str(exc) and not re.fullmatch(PLAIN_NUMBER, text.strip())
    else:  # only the documented grammar, read exactly
        assert re.fullmatch(PLAIN_NUMBER, text.strip()) and value == Decimal(text.strip())
    try:
        amount = parse_export_money(text)
    except MoneyError as exc:
        assert repr(text) in str(exc)
    else:
        digits = re.sub(r"[^0-9]", "", text)
        assert "e" not in text.lower().replace("usd", "") and digits  # no exponent, never from nothing
        assert abs(amount) == Decimal(re.sub(r"[^0-9.]", "", text.replace(",", "")) or "0")


_expr_tokens = st.sampled_from(
    ["a", "b", "[a]", "1", "2.5", "'x'", "'C'", "+", "-", "*", "/", "=", "<", ">=", "!=", "and", "or", "not", "(", ")",
     ",", "if(", "number(", "date(", "starts_with(", "coalesce(", "is_empty(", "upper(", "abs(", "'%Y-%m-%d'", "true",
     "null", "nope(", ";", "__import__(", "."]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tokens=st.lists(_expr_tokens, min_size=1, max_size=9))
def test_expressions_compile_to_sql_that_runs_or_are_refused(tokens) -> None:
    import duckdb

    from app.storage.expressions import ExpressionError, SqlContext, compile_expression

    text = " ".join(tokens)
    ctx = SqlContext(["a", "b"], ["%Y-%m-%d"], ["%Y-%m-%d %H:%M"])
    try:
        compiled = compile_expression(text, ctx)
    except ExpressionError as exc:
        assert "expression" in str(exc)
        return
    conn = duckdb.connect()
    conn.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('1', '2.5'), ('1e3', 'x'), (NULL, '0'), ('C7', '2020-01-02')) v(a, b)")
    checks = " OR ".join(f"({c.condition})" for c in ctx.checks) or "FALSE"
    # rows a check rejects are never used; every other row computes without a database error
    conn.execute(f"SELECT CASE WHEN {checks} THEN NULL ELSE {compiled.sql} END FROM t").fetchall()


_v2_line = st.tuples(
    st.sampled_from(["536365", "C536366", "", "536367 ", "x,y"]), st.just("85123A"), _cell,
    st.one_of(_cell, st.integers(-50, 50).map(str)),
    st.one_of(_cell, st.sampled_from(["12/1/2010 8:26", "2/29/2011 10:00", "12/31/2011 23:59"])),
    st.one_of(_cell, st.decimals(min_value=0, max_value=1000, places=4).map(str)),
    st.sampled_from(["17850", "", "12345"]), st.sampled_from(["United Kingdom", "Norway", "Narnia", ""]),
)  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=st.lists(_v2_line, min_size=1, max_size=8))
def test_v2_lines_import_or_are_rejected_with_line_and_reason(tmp_path_factory, lines) -> None:
    from app.storage.admin import init_database
    from app.storage.importer import import_exports

    folder = tmp_path_factory.mktemp("v2")
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"])
    writer.writerows(lines)
    path = _write(folder, "invoices.csv", buf.getvalue())
    url = f"sqlite:///{folder / 'f.db'}"
    init_database(url)
    mapping = Path(__file__).resolve().parents[1] / "examples" / "online_retail" / "mapping.yaml"
    try:
        report = import_exports(url, {"orders": path}, mapping, max_errors=1000, rejects_path=folder / "rejects.csv")
    except CJSimError as exc:
        _names_the_file(exc, path)
        return
    physical_lines = buf.getvalue().count("\n") + 1
    with (folder / "rejects.csv").open(encoding="utf-8") as fh:
        rejects = list(csv.DictReader(fh))
    assert len(rejects) == report.rejected
    for r in rejects:  # every rejected line says where and why
        assert r["file"] == "invoices.csv" and 2 <= int(r["line"]) <= physical_lines and r["reason"]
