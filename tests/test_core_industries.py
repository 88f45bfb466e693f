"""Industry extensions: every schema accepts its examples and refuses a wrong type; unknown industries list the known ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.industries import _load, get_industry, industries, industry_names
from app.errors import DataFileError, InvalidArgumentError, UnknownNameError

INDUSTRIES = ["financial_services", "healthcare", "real_estate", "retail", "telecom"]

WRONG_TYPE = {
    "retail": ({"return_rate": "15%"}, "return_rate: '15%' is not of type 'number'"),
    "telecom": ({"plan_type": "postpaid", "monthly_spend": "89.99"}, "monthly_spend: '89.99' is not of type 'number'"),
    "financial_services": ({"credit_score": 740.5}, "credit_score: 740.5 is not of type 'integer'"),
    "healthcare": ({"conditions": "diabetes"}, "conditions: 'diabetes' is not of type 'array'"),
    "real_estate": ({"budget_range": [2000000]}, "budget_range: [2000000] is too short"),
}


def test_the_five_industries_are_known() -> None:
    assert industry_names() == INDUSTRIES


@pytest.mark.parametrize("name", INDUSTRIES)
def test_each_schema_accepts_its_examples(name: str) -> None:
    industry = get_industry(name)
    assert industry.schema["examples"], "every industry ships at least one example"
    for example in industry.schema["examples"]:
        assert industry.attribute_problems(example) == []
        industry.check_attributes(example)


@pytest.mark.parametrize("name", INDUSTRIES)
def test_each_schema_refuses_a_wrong_type(name: str) -> None:
    attributes, problem = WRONG_TYPE[name]
    industry = get_industry(name)
    assert problem in industry.attribute_problems(attributes)
    with pytest.raises(InvalidArgumentError, match=f"do not follow the {name} schema"):
        industry.check_attributes(attributes)


def test_unknown_keys_and_bad_dates_are_refused() -> None:
    telecom = get_industry("telecom")
    assert telecom.attribute_problems({"plan_type": "prepaid", "favourite_colour": "red"}) == [
        "Additional properties are not allowed ('favourite_colour' was unexpected)"
    ]
    assert telecom.attribute_problems({"plan_type": "prepaid", "contract_end_date": "2024-02-30"}) == [
        "contract_end_date: '2024-02-30' is not a 'date'"
    ]
    assert "'plan_type' is a required property" in telecom.attribute_problems({})


def test_outcome_types_follow_the_seed_lists() -> None:
    assert get_industry("retail").outcome_types == (
        "purchase", "add_to_cart", "product_view", "review_submitted", "return_initiated", "loyalty_signup")
    assert "churn" in get_industry("telecom").outcome_types
    assert "closing_completed" in get_industry("real_estate").outcome_types
    with pytest.raises(InvalidArgumentError, match="'purchase' is not a telecom outcome; known: plan_upgrade"):
        get_industry("telecom").check_outcome_type("purchase")


def test_an_unknown_industry_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="unknown industry 'insurance'; known industries: "
                                               "financial_services, healthcare, real_estate, retail, telecom"):
        get_industry("insurance")


def test_a_broken_schema_file_is_refused_naming_it(tmp_path: Path) -> None:
    good = json.loads(get_industry("retail").path.read_text())
    bad_examples = dict(good, examples=[{"return_rate": "x"}])
    path = tmp_path / "shop.schema.json"
    path.write_text(json.dumps(bad_examples))
    with pytest.raises(DataFileError, match="examples\\[0\\] does not follow the schema"):
        _load(path)
    path.write_text(json.dumps({k: v for k, v in good.items() if k != "x-outcome-types"}))
    with pytest.raises(DataFileError, match="x-outcome-types must be a non-empty list"):
        _load(path)
    path.write_text(json.dumps(dict(good, type=5)))
    with pytest.raises(DataFileError, match="not a valid JSON Schema"):
        _load(path)
    path.write_text("{")
    with pytest.raises(DataFileError, match="shop.schema.json:1: not valid JSON"):
        _load(path)
    assert set(industries()) == set(INDUSTRIES)
