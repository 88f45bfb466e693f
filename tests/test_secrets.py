"""Database passwords never reach a message, a transcript, a batch record or a report.

The property behind every case: whatever characters a password holds (raw or percent-encoded,
spaces, tabs, '@', ':', '/'), the masked text does not depend on the password at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import URL, make_url
from typer.testing import CliRunner

from app.cli import app
from app.errors import ProviderError
from app.evaluation.batch import batch_manifest
from app.storage.admin import init_database, load_world
from app.providers.production import ProductionDataProvider
from app.storage.url import connection_error, mask_url, parse_url
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)

runner = CliRunner()

passwords = st.text(min_size=1, max_size=40)
users = st.text(st.characters(blacklist_characters=":/", blacklist_categories=("Cs",)), max_size=12)
hosts = st.from_regex(r"[a-z0-9][a-z0-9.-]{0,20}", fullmatch=True)
ports = st.sampled_from(["", ":5432", ":1"])
# the rest of a URL: a path and a query that may hold anything, '@' included
tails = st.text(max_size=30).map(lambda t: f"/{t}")
schemes = st.sampled_from(["postgresql+psycopg", "postgresql", "postgres", "mysql"])


def _url(scheme: str, user: str, password: str, host: str, port: str, tail: str) -> str:
    return f"{scheme}://{user}:{password}@{host}{port}{tail}"


@given(schemes, users, passwords, passwords, hosts, ports, tails)
def test_masked_url_does_not_depend_on_the_password(scheme, user, p1, p2, host, port, tail) -> None:
    assert mask_url(_url(scheme, user, p1, host, port, tail)) == mask_url(_url(scheme, user, p2, host, port, tail))


@given(schemes, users, passwords, hosts, ports, tails.filter(lambda t: "@" not in t and "=" not in t))
def test_masked_url_keeps_everything_but_the_password(scheme, user, password, host, port, tail) -> None:
    assert mask_url(_url(scheme, user, password, host, port, tail)) == _url(scheme, user, "***", host, port, tail)


@given(st.text(max_size=20), users, passwords, passwords, hosts, tails)
def test_urls_inside_messages_are_masked(prefix, user, p1, p2, host, tail) -> None:
    prefix = prefix.replace("://", "")  # the message's own words hold no other URL

    def message(password: str) -> str:
        return f"{prefix} cannot connect to postgresql://{user}:{password}@{host}{tail}: timed out"

    assert mask_url(message(p1)) == mask_url(message(p2))


@given(users, passwords, passwords, hosts, st.dictionaries(st.sampled_from(["sslmode", "password", "x"]), st.text(max_size=8)))
def test_url_objects_are_masked(user, p1, p2, host, query) -> None:
    def masked(password: str) -> str:
        return mask_url(URL.create("postgresql+psycopg", username=user, password=password, host=host, database="db",
                                   query={**query, "password": password}))  # fmt: skip

    assert masked(p1) == masked(p2)


@given(hosts, st.text(st.characters(blacklist_characters="&", blacklist_categories=("Cs",)), max_size=30), passwords)
def test_query_passwords_are_masked(host, p1, p2) -> None:
    # in a query string a raw '&' ends the value, so a password cannot hold one
    p2 = p2.replace("&", "")

    def url(password: str) -> str:
        return f"postgresql://{host}/db?sslmode=require&password={password}"

    assert mask_url(url(p1)) == mask_url(url(p2)) == f"postgresql://{host}/db?sslmode=require&password=***"


@given(passwords.filter(lambda p: "%" not in p), hosts)
def test_parse_url_reads_the_password_or_refuses_without_showing_it(password: str, host: str) -> None:
    secret = f"{password}S3cr3tMark"
    text = f"postgresql://cj:{secret}@{host}:5432/shop"
    try:
        parsed = parse_url(text)
    except ProviderError as exc:
        assert "S3cr3tMark" not in str(exc) and "percent-encode" in str(exc)
        return
    assert parsed.password == unquote(secret) and parsed.host == host and parsed.database == "shop"


# --------------------------------------------------------------------------- the reported leaks


@pytest.mark.parametrize("password", ["pa ss", "tab\tbed", "sp ace@and:colon"])
def test_batch_manifest_stores_passwords_with_spaces_masked(password: str) -> None:
    url = f"postgresql+psycopg://cj:{password}@db.example.com:5432/shop"
    manifest = batch_manifest("b", scenarios=["churn_spike"], merchants=["sarah_chen"], workflows=["crisis_response"],
                              provider="production", db_url=url)  # fmt: skip
    assert manifest.provider["url"] == "postgresql+psycopg://cj:***@db.example.com:5432/shop"


def test_raw_at_sign_in_a_password_never_shows_its_second_half() -> None:
    url = "postgresql+psycopg://cj:hunter2@backhalf@127.0.0.1:1/shop"
    with pytest.raises(ProviderError) as err:
        ProductionDataProvider(url)
    message = str(err.value)
    assert "backhalf" not in message and "hunter2" not in message and "%40" in message
    result = runner.invoke(app, ["data", "daily_briefing", "--provider", "production", "--db-url", url])
    assert result.exit_code == 2 and "backhalf" not in result.output and "Traceback" not in result.output


def test_driver_messages_are_masked() -> None:
    error = connection_error(RuntimeError("bad dsn postgresql://u:pa ss@h/db password=x y"), "postgresql://u:pw@h/db")
    assert "pa ss" not in str(error) and "x y" not in str(error) and ":pw@" not in str(error)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("connect_timeout=abc", "bad connect_timeout='abc'"),
        ("connect_timeout=-3", "bad connect_timeout='-3'"),
        ("connect_timeout=1&connect_timeout=2", "gives connect_timeout more than once"),
        ("sslmode=require&sslmode=disable", "gives sslmode more than once"),
    ],
)
def test_malformed_url_options_are_clear_errors(query: str, message: str) -> None:
    with pytest.raises(ProviderError, match=message) as err:
        ProductionDataProvider(f"postgresql+psycopg://cj:hunter2@127.0.0.1:1/shop?{query}")
    assert "hunter2" not in str(err.value)


def test_batch_records_and_reports_hold_no_password(pg_schemas, tmp_path: Path) -> None:  # noqa: F811
    """A whole production batch with a password holding a space and a tab: nothing written shows it."""
    base = pg_schemas.new("secret")
    init_database(base)
    load_world(base, "churn_spike", "sarah_chen", seed=0)
    secret = "pa ss\tw0rd:x"
    parsed = make_url(base)
    user, rest = parsed.username, base.split("@", 1)[1]
    url = f"postgresql+psycopg://{user}:{secret}@{rest}"  # space, tab and colon raw, not percent-encoded
    assert make_url(url).password == secret
    out = tmp_path / "run"
    result = runner.invoke(app, ["batch", "--out", str(out), "--scenarios", "churn_spike", "--merchants", "sarah_chen",
                                 "--workflows", "crisis_response", "--evaluators", "tool_use", "--jobs", "1", "-q",
                                 "--provider", "production", "--db-url", url, "--allow-writable-user"])  # fmt: skip
    assert result.exit_code == 0, result.output
    html = tmp_path / "report.html"
    report = runner.invoke(app, ["report", str(out), "--html", str(html)])
    assert report.exit_code == 0, report.output
    manifest = json.loads((out / "batch.json").read_text(encoding="utf-8"))
    assert manifest["provider"]["url"] == f"postgresql+psycopg://{user}:***@{rest}"
    for text in (result.output, report.output, html.read_text(encoding="utf-8"),
                 (out / "batch.json").read_text(encoding="utf-8"), (out / "transcripts.jsonl").read_text(encoding="utf-8")):  # fmt: skip
        assert "pa ss" not in text and "w0rd" not in text
