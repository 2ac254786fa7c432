"""The --demo generator: deterministic, shaped like a marketing base, and typed as storage keeps it."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import phonenumbers

from infra.demo import contacts_csv, demo_segments, generate

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_same_seed_same_data():
    assert generate(300, seed=7, now=NOW) == generate(300, seed=7, now=NOW)


def test_contacts_look_like_a_marketing_base():
    contacts, events = generate(2000, now=NOW)
    stages = Counter(c["stage"] for c in contacts)
    assert stages["lead"] > stages["mql"] > stages["customer"] > 0
    assert len({c["email"] for c in contacts}) == len(contacts)
    assert len({c["phone"] for c in contacts if c["phone"]}) == len([c for c in contacts if c["phone"]])
    phones = [c["phone"] for c in contacts if c["phone"]]
    assert 0.5 < len(phones) / len(contacts) < 0.85
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(p)) for p in phones)
    assert {e["event"] for e in events} == {"sms_click", "page_view", "purchase"}
    assert all(c["expected_purchase_date"] == "" for c in contacts if c["stage"] != "opportunity")


def test_the_importer_reads_every_demo_row_typed_and_dated(tmp_path):
    from audience.fields import FieldCatalog
    from audience.imports.coercion import CoercionOptions
    from audience.imports.csv_reader import read_csv
    from audience.imports.mapping import map_columns
    from audience.imports.rows import validate_rows

    rows, _ = generate(300, seed=3, now=NOW)
    path = tmp_path / "demo-contacts.csv"
    path.write_bytes(contacts_csv(rows))
    table = read_csv(path)
    catalog = FieldCatalog()
    mapping = map_columns(table.header, catalog)
    assert mapping.ignored == [] and set(mapping.columns.values()) == set(rows[0])
    outcomes = list(validate_rows(table, mapping, catalog, CoercionOptions(), now=NOW))
    assert [r for o in outcomes for r in o.rejects] == []
    first = outcomes[0].contact
    assert isinstance(first.fields["score"], int) and isinstance(first.fields["subscribed"], bool)
    assert first.created_at == rows[0]["created_at"]
    arrivals = sorted(o.contact.created_at for o in outcomes)
    assert arrivals[0] < "2025-06-01" < arrivals[-1] < NOW.isoformat()  # spread over many months


def test_demo_segments_cover_the_practices_the_issue_lists():
    names = [s["name"] for s in demo_segments(NOW.date())]
    assert "Clickers not contacted for 30 days" in names and "Unused numbers" in names
    lifecycle = [s for s in demo_segments(NOW.date()) if s.get("category") == "lifecycle"]
    assert [s["priority"] for s in lifecycle] == sorted(s["priority"] for s in lifecycle)
    assert any(n.startswith("Product: ") for n in names) and any(n.startswith("Country: ") for n in names)


def test_the_generator_looks_each_countrys_example_number_up_once_and_makes_the_same_data(monkeypatch):
    """The demo's 20,000 rows were generated before the stack served anything (~4 CPU-s): each phone
    looked phonenumbers' example number up again and parsed its candidates from text. Now the
    example is looked up once per country; the rows and events are the ones the earlier generator
    made for the same seed (digest of that generator's output, 3,000 rows, seed 7)."""
    import hashlib
    import json

    from infra import demo

    demo._mobile_example.cache_clear()
    lookups = Counter()
    example = phonenumbers.example_number_for_type

    def counted(region, kind):
        lookups[region] += 1
        return example(region, kind)

    monkeypatch.setattr(phonenumbers, "example_number_for_type", counted)
    data = generate(3000, seed=7, now=NOW)
    assert lookups and max(lookups.values()) == 1
    assert hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16] == "7b3aa5b94393318e"
