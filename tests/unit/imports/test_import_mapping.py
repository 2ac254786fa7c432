"""Header matching: case/punctuation-insensitive, aliases, explicit mapping, reported leftovers."""

from __future__ import annotations

import pytest
from audience.fields import FieldCatalog, FieldType
from audience.imports.mapping import MappingError, check_mapping, map_columns, normalise_header

CATALOG = FieldCatalog({"zip_code": FieldType.STRING, "plan": FieldType.STRING})


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("E-mail", "email"),
        ("Email Address", "email"),
        ("EMAIL", "email"),
        ("Mobile", "phone"),
        ("Phone Number", "phone"),
        ("Cell", "phone"),
        ("First Name", "first_name"),
        ("first_name", "first_name"),
        ("Surname", "last_name"),
        ("Zip", "zip_code"),
        ("Postal Code", "zip_code"),
        ("Company Name", "company"),
        ("Opt-in", "subscribed"),
        ("Tags", "tags"),
        (" Plan ", "plan"),
        ("Contact ID", "contact_id"),
    ],
)
def test_headers_and_aliases_map_to_fields(header, field):
    assert map_columns([header], CATALOG).columns == {0: field}


def test_normalisation_drops_case_accents_and_punctuation():
    assert normalise_header(" Prénom-Name_2 ") == "prenomname2"


def test_zip_without_a_declared_field_is_reported_not_imported():
    mapping = map_columns(["Email", "Zip"], FieldCatalog())
    assert mapping.columns == {0: "email"}
    assert mapping.ignored[0].header == "Zip"
    assert "custom field" in mapping.ignored[0].reason


def test_unknown_blank_and_system_columns_are_reported():
    mapping = map_columns(["Email", "Favourite colour", "", "Updated At"], CATALOG)
    assert mapping.columns == {0: "email"}
    reasons = {c.header: c.reason for c in mapping.ignored}
    assert "not a known field" in reasons["Favourite colour"]
    assert "no header" in reasons[""]
    assert "set by the service" in reasons["Updated At"]


@pytest.mark.parametrize("header", ["created_at", "Created", "Created at", "Date added", "Create date", "DATE ADDED"])
def test_a_creation_time_column_feeds_created_at(header):
    assert map_columns(["Email", header], CATALOG).columns == {0: "email", 1: "created_at"}


def test_created_at_can_be_mapped_explicitly_but_updated_at_cannot():
    assert map_columns(["Email", "Signed up"], CATALOG, {"Signed up": "created_at"}).columns[1] == "created_at"
    with pytest.raises(MappingError):
        map_columns(["Email", "Seen"], CATALOG, {"Seen": "updated_at"})


def test_second_column_for_the_same_field_is_reported():
    mapping = map_columns(["Phone", "Mobile"], CATALOG)
    assert mapping.columns == {0: "phone"}
    assert "already feeds field 'phone'" in mapping.ignored[0].reason


def test_explicit_mapping_wins_over_header_guesses_and_can_exclude():
    mapping = map_columns(
        ["Email", "Work Email", "Notes"], CATALOG, {"work-email": "email", "Email": None, "Notes": "plan"}
    )
    assert mapping.columns == {1: "email", 2: "plan"}
    assert [c.reason for c in mapping.ignored] == ["excluded by the job's mapping"]


def test_explicit_mapping_to_unknown_field_or_missing_column_fails():
    with pytest.raises(MappingError) as err:
        map_columns(["Email"], CATALOG, {"Email": "nope"})
    assert err.value.problems[0][0] == "/mapping/Email"
    with pytest.raises(MappingError) as err:
        map_columns(["Email"], CATALOG, {"Mail 2": "email"})
    assert "no column" in err.value.problems[0][1]


def test_check_mapping_names_each_bad_entry():
    problems = check_mapping({"A": "email", "B": "updated_at", "C": "unknown", "D": None}, CATALOG)
    assert [p for p, _ in problems] == ["/mapping/B", "/mapping/C"]
