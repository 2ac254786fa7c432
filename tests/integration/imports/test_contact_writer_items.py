"""The importer's raw transaction items on moto: stored exactly as the models store them, and a
cancelled call falls back only for the contacts whose conditions failed."""

from __future__ import annotations

import boto3
import pytest
from audience.imports.collapse import Candidate
from audience.imports.contact_writer import ContactWriter
from audience.settings import get_settings
from audience.storage import contacts_repo
from audience.storage.base import versioned
from audience.storage.models import ContactItem, UniqueKeyItem, unique_pk

TENANT = "acme"


@pytest.fixture
def writer_env(aws, monkeypatch):
    monkeypatch.setenv("IMPORT_WRITER_THREADS", "1")
    return boto3.client("dynamodb", region_name=aws.region)


def test_raw_items_written_read_back_through_the_models_as_the_models_write_them(writer_env):
    ddb, settings = writer_env, get_settings()
    fields = {
        "email": "a@example.com",
        "phone": "+12024561111",
        "score": 7.5,
        "age": 40,
        "tags": ["vip", "b"],
        "subscribed": True,
        "prefs": {"news": False, "topics": ["x"]},
    }
    steps = [  # a new contact, then an update that moves its email (claim one key, release another)
        (None, {}, {"EMAIL": "a@example.com", "PHONE": "+12024561111"}, fields),
        (
            1,
            {"EMAIL": "a@example.com", "PHONE": "+12024561111"},
            {"EMAIL": "b@example.com", "PHONE": "+12024561111"},
            {**fields, "email": "b@example.com", "score": 8},
        ),
    ]
    for read_version, old, new, values in steps:
        stamp = f"2026-12-06T23:00:0{read_version or 0}.000Z"
        items: list = []
        attributes = contacts_repo.contact_attributes(
            TENANT, "c1", values, created_at="2021-06-30T08:15:00Z", updated_at=stamp
        )
        contacts_repo.add_contact_with_keys(items, TENANT, "c1", attributes, read_version, old, new)
        contacts_repo.transact(items)

        model = ContactItem(
            TENANT,
            "c1",
            fields=values,
            created_at="2021-06-30T08:15:00Z",
            updated_at=stamp,
            erased=False,
            ttl=None,
            gsi1pk=TENANT,
            gsi1sk=f"{stamp}#c1",
            **versioned(read_version),
        )
        expected = model.get_save_kwargs_from_instance()["Item"]  # what pynamodb's save would store
        stored = ddb.get_item(
            TableName=settings.contacts_table, Key={"pk": {"S": TENANT}, "sk": {"S": "c1"}}, ConsistentRead=True
        )["Item"]
        assert stored == expected
        read = ContactItem.get(TENANT, "c1", consistent_read=True)
        written = {name: value for name, value in model.attribute_values.items() if value is not None}
        assert read.attribute_values == {**written, "version": (read_version or 0) + 1}
        assert read.fields == values and type(read.fields["score"]) is type(values["score"])
        for kind, value in new.items():
            key = UniqueKeyItem.get(unique_pk(TENANT, kind, value), "UNIQUE", consistent_read=True)
            assert key.attribute_values == {"pk": unique_pk(TENANT, kind, value), "sk": "UNIQUE", "contact_id": "c1"}
    assert contacts_repo.owner_of(TENANT, "email", "a@example.com") is None  # released
    assert contacts_repo.get(TENANT, "c1").version == 2


def test_a_cancelled_call_falls_back_only_for_the_contact_whose_key_was_taken(writer_env, monkeypatch):
    """Two contacts packed in one call: B claims an email another contact owns (B's look-up missed it),
    A moves its own email (a release). Only B's condition fails, so only B falls back; A's write is
    committed with the call retried without B. (pynamodb sent a call's deletes before its puts, so
    the cancellation reasons' positions named A too, and A fell back as well.)"""
    contacts_repo.upsert(TENANT, "c-a", {"email": "old-a@example.com"})
    contacts_repo.upsert(TENANT, "winner", {"email": "taken@example.com"})
    monkeypatch.setattr(ContactWriter, "_owners", lambda self, candidates: {})  # B reads the email as free
    fallbacks = []
    real_write = ContactWriter.write
    monkeypatch.setattr(ContactWriter, "write", lambda self, c: fallbacks.append(c.rows[0]) or real_write(self, c))
    b = Candidate(rows=[2], fields={"email": "taken@example.com", "city": "Oslo"})
    a = Candidate(rows=[3], fields={"contact_id": "c-a", "email": "new-a@example.com"})

    outcomes = ContactWriter(TENANT, "job-1").write_all([b, a])

    assert fallbacks == [2]
    assert [(o.contact_id, o.reject) for o in outcomes] == [("winner", None), ("c-a", None)]
    assert contacts_repo.get(TENANT, "winner").fields == {"email": "taken@example.com", "city": "Oslo"}
    assert contacts_repo.get(TENANT, "c-a").fields == {"email": "new-a@example.com"}
    assert contacts_repo.owner_of(TENANT, "email", "new-a@example.com") == "c-a"
    assert contacts_repo.owner_of(TENANT, "email", "old-a@example.com") is None
