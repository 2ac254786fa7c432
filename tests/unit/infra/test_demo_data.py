"""The --demo generator: deterministic, shaped like a marketing base, and typed as storage keeps it."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import phonenumbers

from infra.demo import demo_segments, generate, typed_fields

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_same_seed_same_data():
    assert generate(300, seed=7, now=NOW) == generate(300, seed=7, now=NOW)


def test_contacts_look_like_a_marketing_base():
    contacts, events = generate(2000, now=NOW)
    stages = Counter(c["stage"] for c in contacts)
    assert stages["lead"] > stages["mql"] > stages["customer"] > 0
    assert len({c["email"] for c in contacts}) == len(contacts)
    phones = [c["phone"] for c in contacts if c["phone"]]
    assert 0.5 < len(phones) / len(contacts) < 0.85
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(p)) for p in phones)
    assert {e["event"] for e in events} == {"sms_click", "page_view", "purchase"}
    assert all(c["expected_purchase_date"] == "" for c in contacts if c["stage"] != "opportunity")


def test_typed_fields_follow_the_field_catalog_types():
    row = generate(1, seed=3, now=NOW)[0][0] | {"tags": "ebook;webinar", "subscribed": "false", "company": ""}
    fields = typed_fields(row)
    assert isinstance(fields["score"], int) and fields["subscribed"] is False
    assert fields["tags"] == ["ebook", "webinar"]
    assert "company" not in fields and "contact_id" not in fields


def test_demo_segments_cover_the_practices_the_issue_lists():
    names = [s["name"] for s in demo_segments(NOW.date())]
    assert "Clickers not contacted for 30 days" in names and "Unused numbers" in names
    lifecycle = [s for s in demo_segments(NOW.date()) if s.get("category") == "lifecycle"]
    assert [s["priority"] for s in lifecycle] == sorted(s["priority"] for s in lifecycle)
    assert any(n.startswith("Product: ") for n in names) and any(n.startswith("Country: ") for n in names)
