import pytest
from audience.errors import ValidationFailed
from audience.exports.request import export_file_name, parse_export_request


def details_of(body, catalog):
    with pytest.raises(ValidationFailed) as caught:
        parse_export_request(body, catalog)
    return caught.value.details


def test_defaults_to_every_catalog_field_for_tabular_formats(catalog):
    spec = parse_export_request({"format": "parquet"}, catalog, default_stem="VIP buyers")
    assert (
        spec.columns[0] == "contact_id"
        and "tags" in spec.columns
        and spec.columns[-2:]
        == [
            "lifetime_value",
            "loyalty_tier",
        ]
    )
    assert spec.file_name == "VIP buyers.parquet"


def test_audience_layout_defaults_to_email_and_phone(catalog):
    assert parse_export_request({"format": "audience_sha256"}, catalog).columns == ["email", "phone"]


def test_unknown_duplicate_and_non_identifier_fields_are_named_by_path(catalog):
    assert [d["path"] for d in details_of({"format": "csv", "fields": ["email", "nope", "email"]}, catalog)] == [
        "/fields/1",
        "/fields/2",
    ]
    assert [d["path"] for d in details_of({"format": "audience_sha256", "fields": ["email", "score"]}, catalog)] == [
        "/fields/1"
    ]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"format": "pdf"}, "/format"),
        ({}, "/format"),
        ({"format": "csv", "fields": []}, "/fields"),
        ({"format": "csv", "fields": "email"}, "/fields"),
        ({"format": "csv", "added_since": "last tuesday"}, "/added_since"),
        ({"format": "csv", "updated_since": 12.5}, "/updated_since"),
        ({"format": "csv", "colour": "red"}, "/colour"),
    ],
)
def test_malformed_bodies_are_422_with_the_offending_path(catalog, body, path):
    assert [d["path"] for d in details_of(body, catalog)] == [path]


def test_since_filters_become_utc_instants(catalog):
    spec = parse_export_request(
        {"format": "csv", "added_since": "2025-01-02", "updated_since": "2025-01-02T03:00:00+02:00"}, catalog
    )
    assert spec.added_since == "2025-01-02T00:00:00.000000Z"
    assert spec.updated_since == "2025-01-02T01:00:00.000000Z"


@pytest.mark.parametrize(
    ("requested", "fmt", "expected"),
    [
        ("../../etc/passwd", "csv", "passwd.csv"),
        ("C:\\Users\\x\\leads.xlsx", "xlsx", "leads.xlsx"),
        ("leads.xlsx", "csv", "leads.csv"),
        ('Événements "Q1"\r\n', "jsonl", "Evenements _Q1_.jsonl"),
        ("...", "parquet", "segment.parquet"),
        ("a" * 300, "csv", "a" * 100 + ".csv"),
        (None, "audience_sha256", "segment.csv"),
    ],
)
def test_file_names_are_sanitised_and_carry_the_format_extension(requested, fmt, expected):
    assert export_file_name(requested, fmt, "segment") == expected
