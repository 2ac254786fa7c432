"""Contacts storage on moto: merge/replace, unique email/phone under conflicts, erasure, changes feed."""

import pytest
from audience.errors import Conflict, NotFound
from audience.storage import contacts_repo, memberships_repo, segments_repo


def test_upsert_creates_then_merges_fields_and_bumps_version(aws):
    first = contacts_repo.upsert("acme", "c1", {"email": "Ann@X.com", "age": 30, "tags": ["a"]})
    assert (first.version, first.fields["age"]) == (1, 30)
    second = contacts_repo.upsert("acme", "c1", {"city": "Berlin", "age": None})
    assert second.version == 2
    assert second.fields == {"email": "Ann@X.com", "tags": ["a"], "city": "Berlin"}
    assert second.created_at == first.created_at


def test_replace_drops_fields_not_given_and_system_fields_are_ignored(aws):
    contacts_repo.upsert("acme", "c1", {"email": "a@x.com", "city": "Rome"})
    replaced = contacts_repo.upsert("acme", "c1", {"city": "Oslo", "created_at": "1999"}, replace=True)
    assert replaced.fields == {"city": "Oslo"}
    assert contacts_repo.owner_of("acme", "email", "a@x.com") is None


def test_email_is_unique_per_tenant_case_insensitively(aws):
    contacts_repo.upsert("acme", "c1", {"email": "ann@x.com"})
    with pytest.raises(Conflict) as taken:
        contacts_repo.upsert("acme", "c2", {"email": " ANN@x.com "})
    assert taken.value.details == [{"path": "/email", "message": "already used by contact c1"}]
    assert contacts_repo.find("acme", "c2") is None
    contacts_repo.upsert("globex", "c9", {"email": "ann@x.com"})  # another tenant: independent


def test_changing_email_frees_the_old_address(aws):
    contacts_repo.upsert("acme", "c1", {"email": "old@x.com", "phone": "+4915112345678"})
    contacts_repo.upsert("acme", "c1", {"email": "new@x.com"})
    assert contacts_repo.owner_of("acme", "email", "old@x.com") is None
    assert contacts_repo.owner_of("acme", "email", "new@x.com") == "c1"
    assert contacts_repo.owner_of("acme", "phone", "+4915112345678") == "c1"
    assert contacts_repo.upsert("acme", "c2", {"email": "old@x.com"}).contact_id == "c2"


def test_upsert_without_id_matches_by_email_then_phone_else_creates(aws):
    contacts_repo.upsert("acme", "c1", {"email": "a@x.com"})
    contacts_repo.upsert("acme", "c2", {"phone": "+15551234567"})
    assert contacts_repo.upsert("acme", None, {"email": "A@x.com", "city": "X"}).contact_id == "c1"
    assert contacts_repo.upsert("acme", None, {"phone": "+15551234567"}).contact_id == "c2"
    fresh = contacts_repo.upsert("acme", None, {"email": "b@x.com"})
    assert fresh.contact_id not in ("c1", "c2")


def test_a_claim_landing_between_read_and_write_wins_and_the_late_writer_gets_409(aws, monkeypatch):
    # moto applies transactions without a lock, so real threads would test moto, not this code:
    # the competing writer is run deterministically inside the late writer's read-write window.
    real_write = contacts_repo._write_with_keys
    interleaved = []

    def competitor_first(tenant, contact_id, item, old, new):
        if not interleaved:
            interleaved.append(True)
            contacts_repo.upsert("acme", "c2", {"email": "race@x.com"})
        return real_write(tenant, contact_id, item, old, new)

    monkeypatch.setattr(contacts_repo, "_write_with_keys", competitor_first)
    with pytest.raises(Conflict) as late:
        contacts_repo.upsert("acme", "c1", {"email": "RACE@x.com", "city": "Rome"})
    assert late.value.details == [{"path": "/email", "message": "already used by contact c2"}]
    assert contacts_repo.find("acme", "c1") is None
    assert contacts_repo.owner_of("acme", "email", "race@x.com") == "c2"


def test_a_concurrent_update_of_the_same_contact_is_retried_not_lost(aws, monkeypatch):
    contacts_repo.upsert("acme", "c1", {"email": "a@x.com", "city": "Rome"})
    real_write = contacts_repo._write_with_keys
    interleaved = []

    def other_update_first(tenant, contact_id, item, old, new):
        if not interleaved:
            interleaved.append(True)
            contacts_repo.upsert("acme", "c1", {"score": 7})
        return real_write(tenant, contact_id, item, old, new)

    monkeypatch.setattr(contacts_repo, "_write_with_keys", other_update_first)
    merged = contacts_repo.upsert("acme", "c1", {"city": "Oslo"})
    assert merged.fields == {"email": "a@x.com", "city": "Oslo", "score": 7} and merged.version == 3


def test_erase_tombstones_frees_keys_and_removes_memberships(aws):
    segment = segments_repo.create("acme", name="S", type="static")
    contacts_repo.upsert("acme", "c1", {"email": "a@x.com", "phone": "+15551234567"})
    contacts_repo.upsert("acme", "c2", {"email": "b@x.com"})
    memberships_repo.add_many("acme", segment.id, ["c1", "c2"])
    segments_repo.set_member_count("acme", segment.id, 2)
    assert contacts_repo.erase("acme", "c1")
    with pytest.raises(NotFound):
        contacts_repo.get("acme", "c1")
    assert contacts_repo.owner_of("acme", "email", "a@x.com") is None
    assert contacts_repo.owner_of("acme", "phone", "+15551234567") is None
    assert memberships_repo.segments_of("acme", "c1") == []
    assert list(memberships_repo.iter_members("acme", segment.id)) == ["c2"]
    assert segments_repo.get("acme", segment.id).member_count == 1
    assert not contacts_repo.erase("acme", "c1")
    tombstones = [c for c in contacts_repo.changed_since("acme", None) if c.erased]
    assert [(c.contact_id, c.fields) for c in tombstones] == [("c1", {})]


def test_erased_contact_can_be_recreated(aws):
    contacts_repo.upsert("acme", "c1", {"email": "a@x.com", "city": "Rome"})
    contacts_repo.erase("acme", "c1")
    again = contacts_repo.upsert("acme", "c1", {"email": "a@x.com"})
    assert again.fields == {"email": "a@x.com"} and not again.erased


def test_changed_since_returns_only_later_changes_of_the_tenant(aws):
    contacts_repo.upsert("acme", "c1", {"city": "A"})
    mark = contacts_repo.upsert("acme", "c2", {"city": "B"}).updated_at
    contacts_repo.upsert("acme", "c3", {"city": "C"})
    contacts_repo.upsert("globex", "g1", {"city": "G"})
    changed = [c.contact_id for c in contacts_repo.changed_since("acme", mark)]
    assert "c1" not in changed and {"c2", "c3"} <= set(changed) and "g1" not in changed


def test_get_many_skips_missing_erased_and_foreign_contacts(aws):
    contacts_repo.upsert("acme", "c1", {"city": "A"})
    contacts_repo.upsert("acme", "c2", {"city": "B"})
    contacts_repo.erase("acme", "c2")
    contacts_repo.upsert("globex", "c3", {"city": "G"})
    assert set(contacts_repo.get_many("acme", ["c1", "c2", "c3", "nope"])) == {"c1"}
