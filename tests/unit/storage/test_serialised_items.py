"""Memberships, history entries, contact documents and a contact's transaction items built as attribute maps:
exactly what their pynamodb models store (and send)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from audience.storage import membership_history_repo, memberships_repo
from audience.storage.membership_history_repo import Cause, HistoryEntryItem, contact_history_pk, history_pk
from audience.storage.models import MembershipItem, by_contact_pk, membership_pk


@pytest.mark.parametrize("source", ["dynamic", "static", "import"])
@pytest.mark.parametrize("category", [None, "lifecycle", ""])
def test_a_membership_item_is_what_the_model_serialises(category, source):
    for lean in (False, True):
        built = memberships_repo._item("t1", "s1", "c1", source, category, "2026-12-06T10:00:00.123456+00:00",
                                       lean=lean)
        model = MembershipItem(membership_pk("t1", "s1"), "c1", gsi1pk=by_contact_pk("t1", "c1"), gsi1sk="s1",
                               source=None if lean and source == "dynamic" else source, category=category,
                               added_at="2026-12-06T10:00:00.123456+00:00")
        assert built == model.serialize()


def test_a_dynamic_membership_stores_no_source_and_reads_as_dynamic_as_one_that_stores_it():
    """Runs and the stream write one dynamic membership per member: the source they all share is left
    out, and memberships written before (with it) read the same."""
    stamp = "2026-12-06T10:00:00.123456+00:00"
    new = memberships_repo._item("t1", "s1", "c1", "dynamic", "lifecycle", stamp, lean=True)
    assert set(new) == {"pk", "sk", "gsi1pk", "gsi1sk", "category", "added_at"}
    old = {**new, "source": {"S": "dynamic"}}
    read = [memberships_repo._to_record(MembershipItem.from_raw_data(item)) for item in (new, old)]
    assert read[0] == read[1]
    assert read[0].source == "dynamic"
    static = memberships_repo._item("t1", "s1", "c1", "static", None, stamp, lean=True)
    assert memberships_repo._to_record(MembershipItem.from_raw_data(static)).source == "static"


@pytest.mark.parametrize(
    "cause",
    [Cause("run", "run-1", 3), Cause("run", "run-2", 0), Cause("api"), Cause("stream", at="2026-01-02T03:04:05.678Z")],
)
def test_history_entries_are_what_the_model_serialises(cause, monkeypatch):
    monkeypatch.setattr(membership_history_repo, "retention_days", lambda tenant: 400)
    built = membership_history_repo.entries("t1", "s1", ["c1", "c2"], "joined", cause)
    at = built[0]["sk"]["S"].split("#", 1)[0]
    expires = datetime.fromisoformat(at.replace("Z", "+00:00")) + timedelta(days=400)
    models = [
        HistoryEntryItem(history_pk("t1", "s1"), f"{at}#{c}#joined", gsi1pk=contact_history_pk("t1", c),
                         gsi1sk=f"{at}#s1#joined", source=None if cause.source == "run" else cause.source,
                         run_id=cause.run_id,
                         rules_version=cause.rules_version, ttl=expires.astimezone(UTC))
        for c in ("c1", "c2")
    ]
    assert built == [model.serialize() for model in models]
    assert cause.at is None or at == cause.at


DOCUMENTS = [
    {},
    {"email": "a@example.com", "first_name": "Zoë", "age": 33, "score": -7, "zero": 0},
    {"subscribed": True, "opted_out": False, "tags": ["vip", "beta"], "empty_list": [], "empty_map": {}},
    {"ratio": 0.25, "tiny": 1e-07, "huge_float": 1e100, "negative": -2.5, "whole_float": 3.0},
    {"max_plain": 10**38 - 1, "min_plain": -(10**38) + 1, "beyond": 10**38, "read_back": 10**50},
    {"nested": {"list": [1, "x", False, {"deep": [2.5, None]}], "k": {"j": "v"}}, 7: "a number key"},
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_a_document_as_a_raw_map_is_what_the_attribute_serialises(document):
    from audience.storage.attributes import DocumentAttribute, document_from_raw, document_to_raw

    assert document_to_raw(document) == DocumentAttribute().serialize(document)
    assert document_from_raw(document_to_raw(document)) == DocumentAttribute().deserialize(
        DocumentAttribute().serialize(document)
    )


@pytest.mark.parametrize(
    "bad", [{"x": float("nan")}, {"x": {1, 2}}, {"x": [float("inf")]}, {"x": 1e300}, {"x": 10**130 + 1}]
)
def test_a_document_that_cannot_be_stored_fails_as_the_attribute_fails(bad):
    from audience.storage.attributes import DocumentAttribute, document_to_raw

    with pytest.raises(Exception) as ours:
        document_to_raw(bad)
    with pytest.raises(Exception) as models:
        DocumentAttribute().serialize(bad)
    assert type(ours.value) is type(models.value)


def _pynamodb_contact_with_keys(tenant, contact_id, item, old, new, keys_seen_free):
    """The TransactWriteItems items pynamodb built for a contact and its keys before they were
    built as raw maps (contact, claims, releases; the conditions of contacts_repo's writes)."""
    from audience.storage.contacts_repo import UNIQUE_SK
    from audience.storage.models import UniqueKeyItem, unique_pk

    mine = UniqueKeyItem.contact_id == contact_id
    free = UniqueKeyItem.pk.does_not_exist()
    items = [{"Put": item.get_save_kwargs_from_instance()}]
    for kind, value in new.items():
        if old.get(kind) != value:
            key = UniqueKeyItem(unique_pk(tenant, kind, value), UNIQUE_SK, contact_id=contact_id)
            items.append({"Put": key.get_save_kwargs_from_instance(condition=free if keys_seen_free else free | mine)})
    for kind, value in old.items():
        if new.get(kind) != value:
            key = UniqueKeyItem(unique_pk(tenant, kind, value), UNIQUE_SK)
            items.append({"Delete": key.get_delete_kwargs_from_instance(condition=free | mine)})
    return items


@pytest.mark.parametrize(
    ("read_version", "old", "new", "keys_seen_free", "erased"),
    [
        (None, {}, {"EMAIL": "a@example.com", "PHONE": "+12024561111"}, False, False),
        (None, {}, {"EMAIL": "a@example.com", "PHONE": "+12024561111"}, True, False),
        (
            4,
            {"EMAIL": "old@example.com", "PHONE": "+12024561111"},
            {"EMAIL": "a@example.com", "PHONE": "+12024561111"},
            False,
            False,
        ),
        (1, {"EMAIL": "old@example.com"}, {}, False, True),
        (9, {}, {}, False, False),
    ],
)
def test_a_contacts_transaction_items_are_the_requests_pynamodb_built_for_the_models(
    read_version, old, new, keys_seen_free, erased
):
    from audience.storage import contacts_repo
    from audience.storage.base import versioned
    from audience.storage.models import ContactItem

    fields = (
        {} if erased else {"email": "a@example.com", "phone": "+12024561111", "score": 7.5, "tags": ["vip"], "ok": True}
    )
    stamp, created, ttl = "2026-12-06T23:00:00.123Z", "2021-06-30T08:15:00Z", 1_799_624_207
    model = ContactItem(
        "t1",
        "c1",
        fields=fields,
        created_at=created,
        updated_at=stamp,
        erased=erased,
        ttl=datetime.fromtimestamp(ttl, UTC) if erased else None,
        gsi1pk="t1",
        gsi1sk=f"{stamp}#c1",
        **versioned(read_version),
    )
    attributes = contacts_repo.contact_attributes(
        "t1", "c1", fields, created_at=created, updated_at=stamp, erased=erased, ttl=ttl if erased else None
    )
    built: list = []
    added = contacts_repo.add_contact_with_keys(
        built, "t1", "c1", attributes, read_version, old, new, keys_seen_free=keys_seen_free
    )
    assert built == _pynamodb_contact_with_keys("t1", "c1", model, old, new, keys_seen_free)
    assert added == len(built)


def test_a_history_entry_stores_only_what_its_keys_do_not_spell(monkeypatch):
    """Segment, contact, change and moment are in the keys: a run writes one entry per membership it
    changes, and the four attributes were a third of each entry."""
    monkeypatch.setattr(membership_history_repo, "retention_days", lambda tenant: 30)
    (entry,) = membership_history_repo.entries("t1", "s1", ["c#1"], "left", Cause("run", "run-1", 2))
    assert set(entry) == {"pk", "sk", "gsi1pk", "gsi1sk", "run_id", "rules_version", "ttl"}
    at = entry["sk"]["S"].split("#", 1)[0]
    assert membership_history_repo._parts(entry["pk"]["S"], entry["sk"]["S"]) == ("s1", "c#1", "left", at)


@pytest.mark.parametrize("source", ["api", "import", "transfer", "stream"])
def test_a_run_entry_is_told_by_its_run_id_and_every_other_source_is_stored(source, monkeypatch):
    """A run's entries (one per membership a run changes) leave their source out: only a run's carry
    a ``run_id``. Older run entries, which store ``"run"``, read the same."""
    monkeypatch.setattr(membership_history_repo, "retention_days", lambda tenant: 30)
    (run,) = membership_history_repo.entries("t1", "s1", ["c1"], "joined", Cause("run", "run-1", 2))
    (other,) = membership_history_repo.entries("t1", "s1", ["c1"], "joined", Cause(source))
    assert "source" not in run
    assert other["source"] == {"S": source}
    as_read = [membership_history_repo._as_dict(HistoryEntryItem.from_raw_data(item))
               for item in (run, {**run, "source": {"S": "run"}}, other)]
    assert as_read[0] == as_read[1]
    assert (as_read[0]["source"], as_read[0]["run_id"], as_read[0]["rules_version"]) == ("run", "run-1", 2)
    assert as_read[2]["source"] == source
