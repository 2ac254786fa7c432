"""The importer's raw transaction items on moto: stored exactly as the models store them, and a
cancelled call falls back only for the contacts whose conditions failed."""

from __future__ import annotations

import threading

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


def test_rows_naming_nothing_stored_are_created_without_reading_and_only_the_others_are_read(writer_env, monkeypatch):
    """Every row is first written as a new person, conditioned on the absence of all it writes: rows
    whose keys, id or derived id name nothing stored are created without any read; only the groups
    whose conditions fail are resolved by reading (here the row whose email another contact owns).
    A derived contact that exists after all, under other keys, fails its creation's condition and is
    updated by the fallback."""
    from botocore.client import BaseClient

    contacts_repo.upsert(TENANT, "known", {"email": "known@example.com"})
    writer = ContactWriter(TENANT, "job-1")
    rows = [
        Candidate(rows=[2], fields={"email": "new1@example.com", "phone": "+12024561111"}),
        Candidate(rows=[3], fields={"phone": "+12024561112"}),
        Candidate(rows=[4], fields={"email": "moved@example.com", "city": "Oslo"}),
        Candidate(rows=[5], fields={"contact_id": "by-id", "first_name": "Id"}),
        Candidate(rows=[6], fields={"email": "known@example.com", "city": "Rome"}),
        Candidate(rows=[7], fields={"first_name": "Nobody"}),
    ]
    moved = writer.new_contact_id(rows[2])  # written before under another email (a first delivery, then the API)
    contacts_repo.upsert(TENANT, moved, {"email": "since@example.com"})
    read: list[str] = []
    real_call = BaseClient._make_api_call

    def recording(self, operation, params):
        if operation == "BatchGetItem" and get_settings().contacts_table in params["RequestItems"]:
            read.extend(k["sk"]["S"] for k in params["RequestItems"][get_settings().contacts_table]["Keys"])
        return real_call(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    outcomes = writer.write_all(rows)

    assert read == ["known"]  # the moved row's email is free: its contact is taken for new, then falls back
    assert [o.reject for o in outcomes] == [None] * 6
    assert [o.contact_id for o in outcomes][2:5] == [moved, "by-id", "known"]
    assert [o.created for o in outcomes] == [True, True, True, True, False, True]
    people = {c.contact_id: c.fields for c in contacts_repo.iter_all(TENANT)}
    assert len(people) == 6  # known (row 6 updates it) and five more, the moved contact once
    assert people[moved] == {"email": "moved@example.com", "city": "Oslo"}
    assert contacts_repo.owner_of(TENANT, "email", "moved@example.com") == moved
    assert contacts_repo.owner_of(TENANT, "email", "since@example.com") is None


def test_a_later_chunk_is_written_by_the_same_writer_threads_without_new_botocore_sessions(aws, monkeypatch):
    """The writer threads outlive a chunk: a new thread's first call built it a botocore session
    (~15 ms of CPU), four a chunk when each chunk had a pool of its own."""
    import botocore.session

    monkeypatch.setenv("IMPORT_WRITER_THREADS", "3")
    one_at_a_time, transact = threading.Lock(), contacts_repo.transact

    def serialised(items):  # in-process moto is not safe for concurrent transactions
        with one_at_a_time:
            transact(items)

    monkeypatch.setattr(contacts_repo, "transact", serialised)
    real = botocore.session.get_session
    built: list[str] = []

    def counted(*args, **kwargs):
        built.append(threading.current_thread().name)
        return real(*args, **kwargs)

    def chunk(first: int) -> list[Candidate]:  # 60 new contacts with an email: two calls of 100 items at most
        return [Candidate(rows=[first + i], fields={"email": f"p{first + i}@example.com"}) for i in range(60)]

    writer = ContactWriter(TENANT, "job-1")
    assert all(o.created for o in writer.write_all(chunk(0)))
    monkeypatch.setattr(botocore.session, "get_session", counted)
    outcomes = writer.write_all(chunk(100))
    assert len(outcomes) == 60 and all(o.created for o in outcomes)
    assert built == []


def _recording_calls(monkeypatch) -> list[tuple[str, dict]]:
    """Every DynamoDB call of the writer, in order, with its parameters."""
    from botocore.client import BaseClient

    calls: list[tuple[str, dict]] = []
    real_call = BaseClient._make_api_call

    def recording(self, operation, params):
        calls.append((operation, params))
        return real_call(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return calls


def test_a_first_import_of_new_people_reads_nothing_and_creates_each_once(writer_env, monkeypatch):
    """New people (named by email and phone, by a contact id, or by nothing) are written as new
    without a single read: no owners of their keys, no contacts by id (a BatchGetItem of ~1.7 keys a
    row, about a quarter of the DynamoDB work of a created row, was read first). Their creations and
    claims are conditioned on absence, so they are exactly what the reads would have planned."""
    writer = ContactWriter(TENANT, "job-1")
    rows = [
        Candidate(rows=[2], fields={"email": "new1@example.com", "phone": "+12024561111"}),
        Candidate(rows=[3], fields={"phone": "+12024561112"}, created_at="2021-06-30T08:15:00Z"),
        Candidate(rows=[4], fields={"contact_id": "by-id", "email": "id@example.com", "first_name": "Id"}),
        Candidate(rows=[5], fields={"first_name": "Nobody"}),
    ]
    calls = _recording_calls(monkeypatch)

    outcomes = writer.write_all(rows)

    assert [operation for operation, _ in calls] == ["TransactWriteItems"]
    assert [(o.contact_id, o.created, o.reject) for o in outcomes] == [
        (writer.new_contact_id(rows[0]), True, None),
        (writer.new_contact_id(rows[1]), True, None),
        ("by-id", True, None),
        (writer.new_contact_id(rows[3]), True, None),
    ]
    people = {c.contact_id: c for c in contacts_repo.iter_all(TENANT)}
    assert {k: c.fields for k, c in people.items()} == {
        writer.new_contact_id(rows[0]): {"email": "new1@example.com", "phone": "+12024561111"},
        writer.new_contact_id(rows[1]): {"phone": "+12024561112"},
        "by-id": {"email": "id@example.com", "first_name": "Id"},
        writer.new_contact_id(rows[3]): {"first_name": "Nobody"},
    }
    assert people[writer.new_contact_id(rows[1])].created_at == "2021-06-30T08:15:00Z"
    assert contacts_repo.owner_of(TENANT, "email", "id@example.com") == "by-id"
    assert contacts_repo.owner_of(TENANT, "phone", "+12024561111") == writer.new_contact_id(rows[0])

    calls.clear()  # the same chunk delivered again: every creation fails, nothing is written twice
    again = writer.write_all(rows)
    assert [o.contact_id for o in again] == [o.contact_id for o in outcomes]
    assert [o.created for o in again] == [True, True, False, True]  # as read: by-id exists, so it is updated
    assert len(list(contacts_repo.iter_all(TENANT))) == 4
    assert all(c.version == 1 for c in contacts_repo.iter_all(TENANT))  # unchanged rows: not written again
    assert [operation for operation, _ in calls].count("TransactWriteItems") == 1  # the cancelled one


def test_a_chunk_whose_first_call_names_stored_people_is_read_first_without_sending_its_other_calls(
    writer_env, monkeypatch
):
    """A list imported again: the first call, written as new people, is cancelled (every key is
    owned); the chunk's other rows are then not written as new people at all but resolved by
    reading, so a re-import wastes one cancelled call a chunk, and each row updates the contact that
    owns its email."""
    people = [f"p{i}@example.com" for i in range(70)]  # more than the first call's 33 contacts
    for i, email in enumerate(people):
        contacts_repo.upsert(TENANT, f"c{i}", {"email": email})
    calls = _recording_calls(monkeypatch)

    outcomes = ContactWriter(TENANT, "job-2").write_all(
        [Candidate(rows=[i + 2], fields={"email": e, "city": "Oslo"}) for i, e in enumerate(people)]
    )

    transactions = [params["TransactItems"] for operation, params in calls if operation == "TransactWriteItems"]
    claims = [[t for t in items if t["Put"]["Item"]["sk"]["S"] == "UNIQUE"] for items in transactions]
    assert [len(c) for c in claims] == [33, 0]  # the cancelled first call, then the updates (no claims)
    assert len(transactions[1]) == 70
    assert [(o.contact_id, o.created, o.reject) for o in outcomes] == [(f"c{i}", False, None) for i in range(70)]
    assert {c.contact_id: c.fields["city"] for c in contacts_repo.iter_all(TENANT)} == {
        f"c{i}": "Oslo" for i in range(70)
    }


def _counting_plans(monkeypatch) -> list[int]:
    """How many rows have been planned as new people (``_presumed``) so far, one entry per row."""
    planned: list[int] = []
    real_presumed = ContactWriter._presumed

    def presumed(self, candidate, stamp):
        planned.append(candidate.rows[0])
        return real_presumed(self, candidate, stamp)

    monkeypatch.setattr(ContactWriter, "_presumed", presumed)
    return planned


def test_a_chunks_calls_are_sent_as_soon_as_their_contacts_are_planned(writer_env, monkeypatch):
    """The chunk's calls go to DynamoDB while the rest of the chunk is still being planned: planning
    a whole chunk before sending its first call left the store idle for that time."""
    planned = _counting_plans(monkeypatch)
    planned_at_call: list[int] = []
    real_transact = contacts_repo.transact
    monkeypatch.setattr(
        contacts_repo, "transact", lambda items: planned_at_call.append(len(planned)) or real_transact(items)
    )
    rows = [
        Candidate(rows=[i + 2], fields={"email": f"n{i}@example.com", "phone": f"+1202456{1000 + i}"})
        for i in range(150)
    ]

    outcomes = ContactWriter(TENANT, "job-3").write_all(rows)

    # the probe, then each call of 33 contacts as soon as the next contact does not fit in it
    assert planned_at_call == [33, 67, 100, 133, 150]
    assert all(o.created and o.reject is None for o in outcomes) and len(outcomes) == 150
    assert len(list(contacts_repo.iter_all(TENANT))) == 150


def test_a_cancelled_call_after_the_probe_stops_planning_rows_as_new_people(writer_env, monkeypatch):
    """A stored person in the chunk's second call: once that call is cancelled, the rows not yet
    planned are not planned as new people at all (that work would only be thrown away) but resolved
    by reading, with the rest of the cancelled call's people; every row still imports once."""
    contacts_repo.upsert(TENANT, "stored", {"email": "n40@example.com"})
    planned = _counting_plans(monkeypatch)
    rows = [Candidate(rows=[i + 2], fields={"email": f"n{i}@example.com", "city": "Oslo"}) for i in range(120)]

    outcomes = ContactWriter(TENANT, "job-4").write_all(rows)

    # the probe (33), the cancelled second call (50 contacts of two items) and the row after it: 84-119 were read
    assert len(planned) == 84
    assert [(o.contact_id, o.created) for o in outcomes if not o.created] == [("stored", False)]
    assert all(o.reject is None for o in outcomes) and len(outcomes) == 120
    people = {c.contact_id: c.fields for c in contacts_repo.iter_all(TENANT)}
    assert len(people) == 120 and people["stored"] == {"email": "n40@example.com", "city": "Oslo"}
