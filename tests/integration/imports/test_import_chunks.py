"""Large files on moto: split into chunks fanned out over ImportChunksQueue under one job whose
progress grows, re-delivered and failing chunks, importers racing chunk by chunk, created_at."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import boto3
import pytest
from audience.imports import use_case
from audience.imports.jobs import JobStore
from audience.imports.use_case import ImportServices
from audience.settings import get_settings
from audience.storage import contacts_repo, tenants_repo
from botocore.client import BaseClient

from tests.integration.imports.helpers import LambdaContext, s3_notification, sqs_event

TENANT = "acme"


@pytest.fixture
def env(aws, monkeypatch):
    monkeypatch.setenv("IMPORT_WRITER_THREADS", "1")
    monkeypatch.setattr(use_case, "CHUNK_ROWS", 4)
    tenants_repo.create_tenant(TENANT, "Acme", default_region="US")
    return ImportServices(
        ddb=boto3.client("dynamodb", region_name=aws.region),
        s3=boto3.client("s3", region_name=aws.region),
        settings=get_settings(),
        sqs=boto3.client("sqs", region_name=aws.region),
    )


def jobs(env) -> JobStore:
    return JobStore(env.ddb, env.settings.main_table)


def upload(env, file_name: str, data: bytes):
    job = jobs(env).create(TENANT, file_name)
    env.s3.put_object(Bucket=env.settings.import_bucket, Key=job.upload_key, Body=data)
    etag = env.s3.head_object(Bucket=env.settings.import_bucket, Key=job.upload_key)["ETag"].strip('"')
    return job, s3_notification(env.settings.import_bucket, job.upload_key, etag, len(data))


def invoke(body: dict, receive_count: int = 1) -> dict:
    from functions.importer.app import lambda_handler

    event = sqs_event(body)
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    return lambda_handler(event, LambdaContext())


def queued_chunks(env) -> list[dict]:
    """Take every message off the chunks queue (as the event source mapping would)."""
    bodies = []
    url = env.settings.import_chunks_queue_url
    while messages := env.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            env.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def people(tenant=TENANT) -> dict[str, dict]:
    return {c.contact_id: c.fields for c in contacts_repo.iter_all(tenant)}


ROWS = (
    b"email,phone,score\n"
    + b"".join(
        b"p%d@example.com,%s,%s\n"
        % (i, b"+1202456%04d" % (1000 + i) if i != 5 else b"12", b"x" if i == 9 else b"%d" % i)
        for i in range(10)
    )
    + b"nobody,,\n"
)


def test_a_large_file_is_split_into_chunks_and_the_job_counts_up_until_the_last_one(env):
    job, note = upload(env, "big.csv", ROWS)
    assert invoke(note) == {"batchItemFailures": []}
    split = jobs(env).get(TENANT, job.job_id)
    assert (split.status, split.chunks_total, split.rows_read, split.rows_processed) == ("running", 3, 11, 0)
    assert people() == {}  # nothing written by the upload's invocation
    messages = queued_chunks(env)
    assert [m["chunk"] for m in messages] == [0, 1, 2]

    progress = []
    for message in messages:
        invoke(message)
        now = jobs(env).get(TENANT, job.job_id)
        progress.append((now.status, now.rows_processed))
    assert progress == [("running", 4), ("running", 8), ("succeeded", 11)]

    done = jobs(env).get(TENANT, job.job_id)
    assert (done.rows_imported, done.rows_rejected, done.values_dropped) == (10, 1, 2)
    assert (done.contacts_created, done.contacts_updated) == (10, 0)
    assert len(people()) == 10
    report = env.s3.get_object(Bucket=env.settings.data_bucket, Key=done.report_key)["Body"].read().decode("utf-8-sig")
    lines = [line.split(",") for line in report.strip().split("\r\n")]
    # one report, in file order across the chunks: two dropped values, one rejected row
    assert [(line[0], line[1], line[-1]) for line in lines[1:]] == [
        ("7", "phone", "value dropped"),
        ("11", "score", "value dropped"),
        ("12", "email", "row rejected"),
    ]
    assert not env.s3.list_objects_v2(Bucket=env.settings.data_bucket, Prefix=f"tenants/{TENANT}/import-chunks/").get(
        "Contents"
    )


def test_a_redelivered_chunk_imports_once_and_counts_once(env, monkeypatch):
    job, note = upload(env, "big.csv", ROWS)
    invoke(note)
    first, *rest = queued_chunks(env)
    real_count = JobStore.count_chunk
    crashes = []

    def crash_after_the_writes_once(self, *args, **kwargs):
        if not crashes:
            crashes.append(1)
            raise ConnectionError("lost the connection after writing")
        return real_count(self, *args, **kwargs)

    monkeypatch.setattr(JobStore, "count_chunk", crash_after_the_writes_once)
    assert invoke(first) == {"batchItemFailures": [{"itemIdentifier": "m0"}]}  # SQS will deliver it again
    assert len(people()) == 4 and jobs(env).get(TENANT, job.job_id).rows_processed == 0
    invoke(first, receive_count=2)  # the writes again (idempotent), counted now
    invoke(first, receive_count=3)  # a duplicate delivery after success: nothing
    for message in rest:
        invoke(message)
    done = jobs(env).get(TENANT, job.job_id)
    assert (done.status, done.rows_processed, done.contacts_created, done.contacts_updated) == ("succeeded", 11, 10, 0)
    assert len(people()) == 10


def test_a_chunk_failing_its_last_delivery_fails_the_job_exactly_once(env, monkeypatch):
    from audience.imports import chunk_runner

    job, note = upload(env, "big.csv", ROWS)
    invoke(note)
    messages = queued_chunks(env)
    real_write = chunk_runner.ContactWriter.write_all

    def broken_on_the_second_chunk(self, candidates):
        if any(c.fields.get("email") == "p5@example.com" for c in candidates):
            raise RuntimeError("the table is gone")
        return real_write(self, candidates)

    monkeypatch.setattr(chunk_runner.ContactWriter, "write_all", broken_on_the_second_chunk)
    invoke(messages[0])
    for attempt in (1, 2, 3):
        assert invoke(messages[1], receive_count=attempt)["batchItemFailures"]
        assert jobs(env).get(TENANT, job.job_id).status == "running"  # the other chunk is not done yet
    invoke(messages[2])
    failed = jobs(env).get(TENANT, job.job_id)
    assert (failed.status, failed.error_code, failed.chunks_failed) == ("failed", "internal", 1)
    assert "1 of 3 chunks" in failed.error
    invoke(messages[1], receive_count=4)  # a late delivery changes nothing
    assert jobs(env).get(TENANT, job.job_id).status == "failed"
    assert len(people()) == 6  # chunks 0 and 2: p0-p3, p8, p9


@pytest.mark.parametrize("presume_new", [True, False], ids=["written-as-new-first", "read-first"])
def test_two_importers_racing_chunk_by_chunk_on_the_same_people_create_each_once(env, monkeypatch, presume_new):
    """Both ways a chunk is written race: written as new people first (the losers' conditions fail,
    they are resolved by reading and update the winners' contacts), and read first (both read the
    people as new, the losers' transactions fail and fall back)."""
    # moto applies a transaction by deep-copying its tables without a lock: serialise single API calls
    # (as DynamoDB applies each atomically); the read-then-write races between importers stay free.
    lock, real_call = threading.Lock(), BaseClient._make_api_call

    def atomic_call(self, *args, **kwargs):
        with lock:
            return real_call(self, *args, **kwargs)

    monkeypatch.setattr(BaseClient, "_make_api_call", atomic_call)
    rows = b"email,phone,first_name\n" + b"".join(
        b"p%d@example.com,+1202456%04d,N%d\n" % (i, 1000 + i, i) for i in range(12)
    )
    uploads = [upload(env, f"c{i}.csv", rows) for i in range(2)]
    for _, note in uploads:
        invoke(note)
    messages = queued_chunks(env)
    assert len(messages) == 6
    fallbacks = []
    from audience.imports.contact_writer import ContactWriter

    monkeypatch.setattr(ContactWriter, "presume_new", presume_new)
    real_fallback, real_resolved = ContactWriter.write, ContactWriter._write_resolved
    monkeypatch.setattr(ContactWriter, "write", lambda self, c: fallbacks.append(c) or real_fallback(self, c))
    if presume_new:  # a presumed-new write that lost is resolved by reading

        def resolving(self, candidates, indexes, *rest):
            fallbacks.extend(indexes)
            return real_resolved(self, candidates, indexes, *rest)

        monkeypatch.setattr(ContactWriter, "_write_resolved", resolving)
    # Every chunk plans its people before any chunk commits (a barrier before each one's first
    # commit), so both importers always plan to create the same people and one of each pair must lose.
    resolved, real_commit = threading.Barrier(len(messages), timeout=60), ContactWriter._commit
    waited: set[int] = set()

    def commit_after_everyone_resolved(self, *args, **options):
        if id(self) not in waited:
            waited.add(id(self))
            resolved.wait()
        return real_commit(self, *args, **options)

    monkeypatch.setattr(ContactWriter, "_commit", commit_after_everyone_resolved)
    # chunk invocations of both jobs at once (each is its own Lambda invocation)
    threads = [threading.Thread(target=use_case.handle_chunk, args=(env, m, 1)) for m in messages]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everyone = people()
    assert len(everyone) == 12
    assert len({f["email"] for f in everyone.values()}) == 12 and len({f["phone"] for f in everyone.values()}) == 12
    done = [jobs(env).get(TENANT, j.job_id) for j, _ in uploads]
    assert [d.status for d in done] == ["succeeded", "succeeded"]
    assert sum(d.contacts_created for d in done) == 12 and sum(d.contacts_updated for d in done) == 12
    assert fallbacks, "the importers never raced; the test did not exercise the conditional writes"
    for contact_id, fields in everyone.items():
        assert contacts_repo.owner_of(TENANT, "email", fields["email"]) == contact_id
        assert contacts_repo.owner_of(TENANT, "phone", fields["phone"]) == contact_id


def test_created_at_from_the_file_dates_new_contacts_only_and_rules_see_it(env):
    from audience.evaluation.preview import preview

    existing = contacts_repo.upsert(TENANT, "old-1", {"email": "old@example.com"})
    body = (
        b"Email,Date added\n"
        b"old@example.com,2020-01-01\n"
        b"new@example.com,2021-06-30 08:15\n"
        b"later@example.com,2999-01-01\n"
        b"plain@example.com,\n"
    )
    job, note = upload(env, "dated.csv", body)
    invoke(note)
    done = jobs(env).get(TENANT, job.job_id)
    assert (done.status, done.values_dropped, done.rows_rejected) == ("succeeded", 1, 0)
    by_email = {c.fields["email"]: c for c in contacts_repo.iter_all(TENANT)}
    assert by_email["old@example.com"].created_at == existing.created_at  # existing contacts keep theirs
    assert by_email["new@example.com"].created_at == "2021-06-30T08:15:00Z"
    today = datetime.now(UTC).date().isoformat()
    assert by_email["later@example.com"].created_at.startswith(today)  # the future value was dropped
    assert by_email["plain@example.com"].created_at.startswith(today)
    answer = preview(TENANT, {"field": "created_at", "op": "before", "value": "2022-01-01T00:00:00Z"}, s3=env.s3)
    assert answer["count"] == 1 and answer["sample"][0]["email"] == "new@example.com"


def test_a_chunk_is_queued_as_soon_as_it_is_cut_before_the_next_chunk_is_read(env, monkeypatch):
    """The chunk invocations start on a chunk while the split still reads the next one (they used to
    wait for the next chunk to be cut before this one was queued)."""
    read: list[int] = []
    queued_after: list[int] = []
    validate, queue = use_case.validate_rows, use_case._queue_chunk

    def counted(*args, **kwargs):
        for outcome in validate(*args, **kwargs):
            read.append(outcome.row)
            yield outcome

    def noted(services, job, chunk):
        queued_after.append(len(read))
        queue(services, job, chunk)

    monkeypatch.setattr(use_case, "validate_rows", counted)
    monkeypatch.setattr(use_case, "_queue_chunk", noted)
    job, note = upload(env, "big.csv", ROWS)
    assert invoke(note) == {"batchItemFailures": []}
    assert queued_after == [5, 9, 11]  # 4 rows a chunk: each queued once one row past it is read
    assert [c["chunk"] for c in queued_chunks(env)] == [0, 1, 2]
    assert jobs(env).get(TENANT, job.job_id).chunks_total == 3
