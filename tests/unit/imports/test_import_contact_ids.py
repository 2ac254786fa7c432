"""Contacts an import creates get ids derived from the job and the row (a re-delivered chunk finds
them already written): the very ``uuid5`` ids, written without building a ``uuid.UUID`` per row."""

from __future__ import annotations

import random
import uuid

from audience.imports import contact_writer
from audience.imports.collapse import Candidate
from audience.imports.contact_writer import ContactWriter


def expected_id(tenant: str, job: str, row: int) -> str:
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"audience-import:{tenant}:{job}")
    return str(uuid.uuid5(namespace, str(row)))


def test_a_rows_id_is_the_uuid5_of_its_job_and_row():
    rng = random.Random(5)
    for tenant, job in [("acme", "job-1"), ("t-ü", uuid.uuid4().hex), ("", "")]:
        writer = ContactWriter(tenant, job)
        for row in [2, 3, 1_000_001, *(rng.randint(2, 10**6) for _ in range(2000))]:
            made = writer.new_contact_id(Candidate(rows=[row, row + 7]))
            assert made == expected_id(tenant, job, row)
            assert uuid.UUID(made).version == 5 and uuid.UUID(made).variant == uuid.RFC_4122


def test_a_rows_id_is_written_without_building_a_uuid(monkeypatch):
    writer = ContactWriter("acme", "job-1")
    expected = [expected_id("acme", "job-1", row) for row in range(2, 100)]

    def no_uuid(*args, **kwargs):
        raise AssertionError("a uuid.UUID was built for a row's id")

    monkeypatch.setattr(contact_writer.uuid, "uuid5", no_uuid)
    monkeypatch.setattr(contact_writer.uuid, "UUID", no_uuid)
    assert [writer.new_contact_id(Candidate(rows=[row])) for row in range(2, 100)] == expected
