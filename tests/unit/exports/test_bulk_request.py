import pytest
from audience.bulk.contact_updates import update_expression
from audience.bulk.request import parse_mass_update, parse_reset_score
from audience.errors import ValidationFailed


def paths(call):
    with pytest.raises(ValidationFailed) as caught:
        call()
    return [d["path"] for d in caught.value.details]


def test_values_become_their_stored_form(catalog):
    stored = parse_mass_update(
        {
            "set": {
                "stage": "customer",
                "score": 0,
                "subscribed": False,
                "expected_purchase_date": "2026-05-01",
                "last_clicked_at": "2026-05-01T12:00:00+02:00",
                "tags": ["a", "b", "a"],
                "lifetime_value": 12.5,
                "city": None,
            }
        },
        catalog,
    )
    assert stored == {
        "stage": "customer",
        "score": 0,
        "subscribed": False,
        "expected_purchase_date": "2026-05-01",
        "last_clicked_at": "2026-05-01T10:00:00Z",
        "tags": ["a", "b"],
        "lifetime_value": 12.5,
        "city": None,
    }


def test_every_bad_field_is_reported_under_set(catalog):
    body = {
        "set": {
            "updated_at": "2026-01-01T00:00:00Z",
            "phone": "+4915112345678",
            "nope": 1,
            "score": True,
            "age": float("nan"),
            "last_received_at": "tomorrow",
            "tags": ["ok", 3],
            "first_name": "x" * 2001,
        }
    }
    assert paths(lambda: parse_mass_update(body, catalog)) == [
        "/set/updated_at", "/set/phone", "/set/nope", "/set/score", "/set/age",
        "/set/last_received_at", "/set/tags", "/set/first_name",
    ]  # fmt: skip


def test_body_shape_errors(catalog):
    assert paths(lambda: parse_mass_update([], catalog)) == [""]
    assert paths(lambda: parse_mass_update({"set": []}, catalog)) == ["/set"]
    assert paths(lambda: parse_mass_update({"set": {f"f{i}": 1 for i in range(51)}}, catalog))[0] == "/set"


def test_reset_score_requires_true_confirmation_and_a_reason():
    assert parse_reset_score({"reason": " new model ", "confirm": True}).reason == " new model "
    assert paths(lambda: parse_reset_score({"reason": "x", "confirm": False})) == ["/confirm"]
    assert paths(lambda: parse_reset_score({"reason": "x", "confirm": "yes"})) == ["/confirm"]
    assert paths(lambda: parse_reset_score({"reason": "", "confirm": True})) == ["/reason"]
    assert paths(lambda: parse_reset_score({"reason": "x", "confirm": True, "all": 1})) == ["/all"]


def test_update_touches_only_the_given_fields_and_skips_erased_contacts():
    args = update_expression({"stage": "won", "city": None}, "2026-01-01T00:00:00.000Z", "c1")
    assert args["UpdateExpression"] == (
        "SET #u = :now, #g = :gsi, #v = if_not_exists(#v, :zero) + :one, #f.#a1 = :v1 REMOVE #f.#a0"
    )
    assert args["ExpressionAttributeNames"]["#a0"] == "city" and args["ExpressionAttributeNames"]["#a1"] == "stage"
    assert args["ExpressionAttributeValues"][":gsi"] == {"S": "2026-01-01T00:00:00.000Z#c1"}
    assert "#e = :false" in args["ConditionExpression"] and "attribute_exists(#f)" in args["ConditionExpression"]
