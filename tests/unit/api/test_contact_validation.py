"""Strict JSON typing of contact fields against the catalog."""

from __future__ import annotations

import pytest
from audience.contacts.validation import check_contact_id, check_fields, check_value
from audience.errors import TooLarge, ValidationFailed
from audience.fields import FieldCatalog, FieldType

CATALOG = FieldCatalog(custom={"loyalty_tier": FieldType.STRING, "vip": FieldType.BOOLEAN})


def test_values_are_stored_in_the_shared_representation():
    values = check_fields(
        {
            "email": "  Ada@Example.COM ",
            "phone": "+49 151 12345678",
            "age": 36,
            "subscribed": True,
            "expected_purchase_date": "2025-03-01",
            "last_clicked_at": "2025-03-01T10:00:00+02:00",
            "tags": ["VIP", "vip", " new "],
            "vip": False,
        },
        CATALOG,
    )
    assert values == {
        "email": "ada@example.com",
        "phone": "+4915112345678",
        "age": 36,
        "subscribed": True,
        "expected_purchase_date": "2025-03-01",
        "last_clicked_at": "2025-03-01T08:00:00Z",
        "tags": ["VIP", "new"],
        "vip": False,
    }


def test_every_bad_field_is_reported_with_its_path():
    with pytest.raises(ValidationFailed) as raised:
        check_fields({"age": "36", "subscribed": "yes", "nope": 1, "tags": "a,b", "email": "x"}, CATALOG)
    paths = {d["path"]: d["message"] for d in raised.value.details}
    assert set(paths) == {"/age", "/subscribed", "/nope", "/tags", "/email"}
    assert "declare it" in paths["/nope"]


def test_system_fields_are_ignored_and_contact_id_must_agree():
    assert (
        check_fields({"created_at": "x", "updated_at": "y", "contact_id": "c1"}, CATALOG, contact_id="c1")
        == {}
    )
    with pytest.raises(ValidationFailed) as raised:
        check_fields({"contact_id": "other"}, CATALOG, contact_id="c1")
    assert raised.value.details[0]["path"] == "/contact_id"


def test_null_removes_a_field_only_when_merging():
    assert check_fields({"age": None}, CATALOG) == {}
    assert check_fields({"age": None}, CATALOG, allow_null=True) == {"age": None}


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (FieldType.NUMBER, True),
        (FieldType.NUMBER, float("inf")),
        (FieldType.NUMBER, 1e300),
        (FieldType.NUMBER, 1e-300),
        (FieldType.BOOLEAN, 1),
        (FieldType.DATE, "2025-02-30"),
        (FieldType.DATE, "01/02/2025"),
        (FieldType.DATETIME, "yesterday"),
        (FieldType.LIST, ["a", 1]),
        (FieldType.LIST, ["x"] * 1001),
        (FieldType.STRING, "x" * 2001),
        (FieldType.STRING, 5),
    ],
)
def test_wrong_values_are_refused(kind, value):
    with pytest.raises(ValueError):
        check_value("field", kind, value)


def test_a_zoneless_datetime_is_read_as_utc():
    assert check_value("created", FieldType.DATETIME, "2025-01-02T03:04:05") == "2025-01-02T03:04:05Z"


def test_a_phone_without_country_code_needs_the_tenant_region():
    with pytest.raises(ValueError):
        check_value("phone", FieldType.STRING, "0151 12345678")
    assert check_value("phone", FieldType.STRING, "0151 12345678", default_region="DE") == "+4915112345678"


def test_a_body_that_is_not_an_object_or_too_large_is_refused():
    with pytest.raises(ValidationFailed):
        check_fields(["email"], CATALOG)
    with pytest.raises(TooLarge):
        check_fields({"loyalty_tier": "x" * 400_000}, CATALOG)


@pytest.mark.parametrize("contact_id", ["", "a b", "a/b", "x" * 129, "tab\there"])
def test_contact_ids_are_bounded(contact_id):
    with pytest.raises(ValidationFailed):
        check_contact_id(contact_id)
