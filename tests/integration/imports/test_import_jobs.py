"""The importer end to end on moto: job, upload, S3 notification, contacts, report, memberships."""

from __future__ import annotations

import csv
import io
import json
import threading

import boto3
import openpyxl
import pytest
from audience.imports.jobs import JobStore, presigned_upload
from audience.imports.use_case import ImportServices, handle_upload
from audience.settings import get_settings
from audience.storage import contacts_repo, fields_repo, memberships_repo, segments_repo, tenants_repo
from botocore.client import BaseClient

from tests.integration.imports.helpers import LambdaContext, s3_notification, sqs_event

TENANT = "acme"


@pytest.fixture
def env(aws, monkeypatch):
    # In-process moto cannot take concurrent transactions (see contact_writer.writer_threads);
    # the concurrency test below serialises single calls instead and runs the threaded path.
    monkeypatch.setenv("IMPORT_WRITER_THREADS", "1")
    settings = get_settings()
    tenants_repo.create_tenant(TENANT, "Acme", default_region="US")
    tenants_repo.create_tenant("other", "Other", default_region="GB")
    return ImportServices(
        ddb=boto3.client("dynamodb", region_name=aws.region),
        s3=boto3.client("s3", region_name=aws.region),
        settings=settings,
        sqs=boto3.client("sqs", region_name=aws.region),
    )


def new_job(env, file_name, tenant=TENANT, **options):
    return JobStore(env.ddb, env.settings.main_table).create(tenant, file_name, **options)


def upload(env, job, data: bytes) -> dict:
    env.s3.put_object(Bucket=env.settings.import_bucket, Key=job.upload_key, Body=data)
    head = env.s3.head_object(Bucket=env.settings.import_bucket, Key=job.upload_key)
    return s3_notification(env.settings.import_bucket, job.upload_key, head["ETag"].strip('"'), head["ContentLength"])


def run_importer(*notifications):
    """The upload's invocation, then every queued chunk, as the chunks queue would deliver them."""
    from functions.importer.app import lambda_handler

    answer = lambda_handler(sqs_event(*notifications), LambdaContext())
    drain_chunks()
    return answer


def drain_chunks() -> int:
    from functions.importer.app import lambda_handler

    sqs = boto3.client("sqs", region_name=get_settings().region)
    url, delivered = get_settings().import_chunks_queue_url, 0
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages"):
        lambda_handler(sqs_event(json.loads(messages[0]["Body"])), LambdaContext())
        sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
        delivered += 1
    return delivered


def job_of(env, job):
    return JobStore(env.ddb, env.settings.main_table).get(job.tenant_id, job.job_id)


def contacts(env, tenant=TENANT) -> dict[str, dict]:
    return {c.contact_id: c.fields for c in contacts_repo.iter_all(tenant)}


def report_lines(env, job) -> list[list[str]]:
    body = env.s3.get_object(Bucket=env.settings.data_bucket, Key=job.report_key)["Body"].read()
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def declare_field(env, tenant, name, field_type):
    fields_repo.create(tenant, name, field_type)


def make_segment(env, tenant, segment_id, category=None, seg_type="static"):
    rules = {"field": "country", "op": "eq", "value": "NO"} if seg_type == "dynamic" else None
    segments_repo.create(tenant, name=segment_id, type=seg_type, category=category, rules=rules, segment_id=segment_id)


def segment_members(env, tenant, segment_id) -> set[str]:
    return set(memberships_repo.iter_members(tenant, segment_id))


CSV_BODY = (
    "E-mail;First Name;Mobile;Age;Opt-in;Tags;Zip;Favourite\r\n"
    "Ann@Example.com;Ann;(202) 456-1111;1,234;yes;vip, beta;90210;blue\r\n"
    "bad-email;Bob;;x;;;;\r\n"
    "ann@example.com;Anne;;;;;;\r\n"
    "carl@example.com;Carl;+44 20 7946 0958;40;no;;;\r\n"
).encode("cp1252")


def test_csv_import_creates_contacts_collapses_duplicates_and_reports_rejects(env):
    declare_field(env, TENANT, "zip", "string")
    job = new_job(env, "leads list.csv")
    result = run_importer(upload(env, job, CSV_BODY))
    assert result == {"batchItemFailures": []}
    done = job_of(env, job)
    assert done.status == "succeeded", done.error
    assert (done.rows_read, done.rows_imported, done.rows_rejected) == (4, 3, 1)
    assert done.contacts_created == 2
    people = {f["email"]: f for f in contacts(env).values()}
    assert set(people) == {"ann@example.com", "carl@example.com"}
    ann = people["ann@example.com"]
    assert ann["first_name"] == "Anne"  # the later row wins
    assert ann["phone"] == "+12024561111"
    assert ann["age"] == 1234 and ann["subscribed"] is True and ann["tags"] == ["vip", "beta"]
    assert ann["zip"] == "90210"
    lines = report_lines(env, done)
    assert lines[0] == ["row", "column", "value", "reason", "action"]
    assert lines[1][:3] == ["1", "Favourite", ""] and lines[1][4] == "column ignored"
    # nothing identifies row 3 (its only identity, the email, is not valid): every problem is listed
    assert {(r[0], r[1], r[4]) for r in lines[2:]} == {("3", "E-mail", "row rejected"), ("3", "Age", "row rejected")}
    assert done.ignored_columns[0]["column"] == "Favourite"
    # the unique-key items point at the contacts
    assert contacts_repo.owner_of(TENANT, "email", "ann@example.com") in contacts(env)


def test_reimport_matches_existing_contacts_by_email_then_phone(env):
    first = new_job(env, "a.csv")
    run_importer(upload(env, first, b"email,phone,city\nann@example.com,2024561111,Oslo\n"))
    [ann_id] = contacts(env)
    second = new_job(env, "b.csv")
    run_importer(upload(env, second, b"Phone Number,City,Last Name\n+1 202 456 1111,Bergen,Smith\nnew@example.com,,\n"))
    done = job_of(env, second)
    assert done.status == "succeeded"
    people = contacts(env)
    assert people[ann_id]["city"] == "Bergen" and people[ann_id]["last_name"] == "Smith"
    assert people[ann_id]["email"] == "ann@example.com"  # empty cells never clear values
    assert done.rows_rejected == 1  # "new@example.com" is not a phone number


def test_reimport_of_unchanged_rows_writes_nothing(env, monkeypatch):
    from audience.imports import contact_writer

    body = b"email,phone,first_name,score,subscribed\nann@example.com,2024561111,Ann,7,yes\nbo@example.com,,Bo,,no\n"
    run_importer(upload(env, new_job(env, "a.csv"), body))
    before = {c.contact_id: (c.version, c.updated_at) for c in contacts_repo.iter_all(TENANT)}
    saves = []
    real_transact = contact_writer.contacts_repo.transact

    def recording(items):  # the contacts of the calls that committed (a cancelled call wrote nothing)
        real_transact(items)
        saves.extend(i["Put"]["Item"]["sk"]["S"] for i in items if "version" in i.get("Put", {}).get("Item", {}))

    monkeypatch.setattr(contact_writer.contacts_repo, "transact", recording)
    again = new_job(env, "b.csv")
    run_importer(upload(env, again, body.replace(b"Bo,,no", b"Bo,,yes")))
    done = job_of(env, again)
    assert (done.status, done.contacts_created, done.contacts_updated, done.rows_imported) == ("succeeded", 0, 2, 2)
    after = {c.contact_id: c for c in contacts_repo.iter_all(TENANT)}
    ann = contacts_repo.owner_of(TENANT, "email", "ann@example.com")
    bo = contacts_repo.owner_of(TENANT, "email", "bo@example.com")
    assert saves == [bo]  # only the row that changes something is written
    assert (after[ann].version, after[ann].updated_at) == before[ann]
    assert after[bo].version == before[bo][0] + 1 and after[bo].fields["subscribed"] is True


def test_email_owned_by_another_contact_is_rejected_not_stolen(env):
    run_importer(upload(env, new_job(env, "a.csv"), b"contact_id,email\nc-1,one@example.com\nc-2,two@example.com\n"))
    job = new_job(env, "b.csv")
    run_importer(upload(env, job, b"contact_id,email\nc-1,two@example.com\n"))
    done = job_of(env, job)
    assert done.rows_rejected == 1
    assert "belongs to contact c-2" in report_lines(env, done)[1][3]
    assert contacts(env)["c-1"]["email"] == "one@example.com"


def test_xlsx_import_into_static_segment_follows_category_rules(env):
    make_segment(env, TENANT, "gold", category="tier")
    make_segment(env, TENANT, "silver", category="tier")
    run_importer(upload(env, new_job(env, "s.csv", segment_id="silver"), b"email\nann@example.com\nbob@example.com\n"))
    assert len(segment_members(env, TENANT, "silver")) == 2
    wb = openpyxl.Workbook()
    wb.active.append(["Email Address", "Surname"])
    wb.active.append(["ann@example.com", "Lee"])
    buf = io.BytesIO()
    wb.save(buf)
    job = new_job(env, "gold.xlsx", segment_id="gold")
    run_importer(upload(env, job, buf.getvalue()))
    assert job_of(env, job).status == "succeeded"
    ann = next(cid for cid, f in contacts(env).items() if f["email"] == "ann@example.com")
    assert segment_members(env, TENANT, "gold") == {ann}
    assert ann not in segment_members(env, TENANT, "silver")
    assert len(segment_members(env, TENANT, "silver")) == 1


def test_dynamic_segment_target_fails_the_job(env):
    make_segment(env, TENANT, "dyn", seg_type="dynamic")
    job = new_job(env, "a.csv", segment_id="dyn")
    run_importer(upload(env, job, b"email\na@example.com\n"))
    done = job_of(env, job)
    assert (done.status, done.error_code) == ("failed", "invalid_segment")
    assert contacts(env) == {}


def test_same_object_delivered_twice_imports_once(env):
    job = new_job(env, "a.csv")
    note = upload(env, job, b"first_name\nNo identity\n")  # no email/phone: would be created twice if re-run
    run_importer(note, note)
    run_importer(note)
    assert len(contacts(env)) == 1
    assert job_of(env, job).rows_imported == 1


def test_crash_half_way_resumes_without_duplicates(env, monkeypatch):
    from audience.imports import contact_writer

    job = new_job(env, "a.csv")
    note = upload(env, job, b"first_name,email\n" + b"".join(b"P%d,\n" % i for i in range(30)) + b"Q,q@example.com\n")
    calls = {"n": 0}
    real_add = contact_writer.contacts_repo.add_contact_with_keys

    def flaky(*args, **options):
        calls["n"] += 1
        if calls["n"] == 12:  # in the second transaction of 10 contacts
            raise ConnectionError("network went away")
        return real_add(*args, **options)

    monkeypatch.setattr(contact_writer, "TRANSACTION_ITEMS", 10)
    monkeypatch.setattr(contact_writer.contacts_repo, "add_contact_with_keys", flaky)
    first = run_importer(note)
    assert first == {"batchItemFailures": [{"itemIdentifier": "m0"}]}  # retried by SQS, then the DLQ
    failed = job_of(env, job)
    assert failed.status == "failed" and failed.error_code == "internal" and "ConnectionError" in failed.error
    assert 0 < len(contacts(env)) < 31
    run_importer(note)  # SQS redelivers the same message
    done = job_of(env, job)
    assert done.status == "succeeded"
    assert len(contacts(env)) == 31
    assert done.rows_imported == 31
    assert (done.contacts_created, done.contacts_updated) == (31, 0)


def test_upload_key_of_another_tenant_or_unknown_job_is_ignored(env):
    job = new_job(env, "a.csv", tenant="other")
    forged = s3_notification(env.settings.import_bucket, f"tenants/{TENANT}/imports/{job.job_id}/a.csv", "e", 10)
    env.s3.put_object(
        Bucket=env.settings.import_bucket,
        Key=f"tenants/{TENANT}/imports/{job.job_id}/a.csv",
        Body=b"email\nx@example.com\n",
    )
    assert run_importer(forged) == {"batchItemFailures": []}
    assert contacts(env) == {} and contacts(env, "other") == {}
    assert job_of(env, job).status == "pending"


def test_file_over_the_cap_fails_with_too_large(env):
    job = new_job(env, "big.csv")
    line = b"someone@example.com,Someone\n"
    data = b"email,first_name\n" + line * (5 * 1024 * 1024 // len(line) + 1)
    run_importer(upload(env, job, data))
    done = job_of(env, job)
    assert (done.status, done.error_code) == ("failed", "too_large")
    assert contacts(env) == {}


def test_test_event_and_url_encoded_keys(env):
    job = new_job(env, "Kunden Liste (März)+1.csv")
    note = upload(env, job, b"email\nk@example.com\n")
    assert "+" in note["Records"][0]["s3"]["object"]["key"]
    assert run_importer({"Event": "s3:TestEvent", "Bucket": env.settings.import_bucket}, note) == {
        "batchItemFailures": []
    }
    assert job_of(env, job).status == "succeeded"


def test_concurrent_imports_keep_email_and_phone_unique(env, monkeypatch):
    """The race on the read path: every importer reads the people as new, then all write."""
    from audience.imports import contact_writer

    monkeypatch.setattr(contact_writer.ContactWriter, "presume_new", False)

    races = []
    real_fallback = contact_writer.ContactWriter.write

    def counting_fallback(self, candidate):  # only called after a lost conditional write
        races.append(candidate.rows[0])
        return real_fallback(self, candidate)

    monkeypatch.setattr(contact_writer.ContactWriter, "write", counting_fallback)
    # All three resolve the people before any of them writes (each reads them as new): their
    # transactions then race for the same keys.
    everyone_resolved, real_owners = threading.Barrier(3, timeout=60), contact_writer.ContactWriter._owners

    def resolve_then_wait(self, candidates):
        owners = real_owners(self, candidates)
        everyone_resolved.wait()
        return owners

    monkeypatch.setattr(contact_writer.ContactWriter, "_owners", resolve_then_wait)
    # moto deep-copies its tables inside transact_write_items without a lock, so concurrent calls
    # break moto itself; real DynamoDB applies each call atomically. Serialising single API calls
    # restores that, while the read-then-write races between the importers stay free.
    lock, real_call = threading.Lock(), BaseClient._make_api_call

    def atomic_call(self, *args, **kwargs):
        with lock:
            return real_call(self, *args, **kwargs)

    monkeypatch.setattr(BaseClient, "_make_api_call", atomic_call)
    monkeypatch.setenv("IMPORT_WRITER_THREADS", "8")
    rows = b"email,phone,first_name\n" + b"".join(
        b"p%d@example.com,+1202456%04d,N%d\n" % (i, 1000 + i, i) for i in range(12)
    )
    jobs = [new_job(env, f"c{i}.csv") for i in range(3)]
    notes = [upload(env, j, rows) for j in jobs]
    bucket = env.settings.import_bucket
    threads = [
        threading.Thread(
            target=handle_upload,
            args=(env, bucket, j.upload_key, n["Records"][0]["s3"]["object"]["eTag"], 100),
        )
        for j, n in zip(jobs, notes, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    people = contacts(env)
    assert len(people) == 12
    assert len({f["email"] for f in people.values()}) == 12
    assert len({f["phone"] for f in people.values()}) == 12
    assert [job_of(env, j).status for j in jobs] == ["succeeded"] * 3
    assert sum(job_of(env, j).contacts_created for j in jobs) == 12
    assert races, "the importers never raced; the test did not exercise the conditional writes"


def test_losing_writer_keeps_keys_a_racing_fallback_gave_its_contact(env, monkeypatch):
    """Writer B plans a new contact (its id derived from B's job and row) with the person's keys;
    before B's transaction commits, another importer's fallback writes that very contact with the
    keys. B's transaction is cancelled (the contact exists now): B must not leave the person twice
    or give away keys; it falls back, finds the keys naming the contact and updates it, and a third
    importer then matches the same contact (seen once in CI with the earlier claim-then-save path).
    B planned by reading first (a chunk that is not presumed new)."""
    from audience.imports.collapse import Candidate
    from audience.imports.contact_writer import ContactWriter

    monkeypatch.setattr(ContactWriter, "presume_new", False)

    person = {"email": "race@example.com", "phone": "+12024561234", "first_name": "R"}
    writer_b, writer_c = ContactWriter(TENANT, "job-b"), ContactWriter(TENANT, "job-c")
    candidate = Candidate(rows=[2], fields=dict(person))
    target = writer_b.new_contact_id(candidate)
    real_commit = ContactWriter._commit_batch
    raced = []

    def another_importer_first(self, batch, writes, *rest):
        if self is writer_b and not raced:
            raced.append(contacts_repo.upsert(TENANT, target, dict(person)))
        return real_commit(self, batch, writes, *rest)

    fallbacks = []
    real_write = ContactWriter.write
    monkeypatch.setattr(ContactWriter, "_commit_batch", another_importer_first)
    monkeypatch.setattr(ContactWriter, "write", lambda self, c: fallbacks.append(c) or real_write(self, c))
    outcome = writer_b.write_all([candidate])[0]
    third = writer_c.write_all([Candidate(rows=[2], fields={**person, "city": "Oslo"})])[0]

    assert raced and fallbacks == [candidate]  # B's transaction lost and only B's contact fell back
    assert outcome.contact_id == target and outcome.reject is None
    assert third.contact_id == target and third.reject is None
    people = contacts(env)
    assert list(people) == [target] and people[target]["city"] == "Oslo"
    assert contacts_repo.owner_of(TENANT, "email", person["email"]) == target
    assert contacts_repo.owner_of(TENANT, "phone", person["phone"]) == target


def test_presigned_upload_names_the_job_key_and_caps_size(env):
    job = new_job(env, "a.xlsx")
    slot = presigned_upload(env.s3, env.settings.import_bucket, job)
    assert job.upload_key in slot["upload_url"].replace("%2F", "/")
    assert ["content-length-range", 1, 5 * 1024 * 1024] in __import__("json").loads(
        __import__("base64").b64decode(slot["upload_form"]["fields"]["policy"])
    )["conditions"]


def test_parquet_import_keeps_types_and_custom_fields(env):
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    declare_field(env, TENANT, "lifetime_value", "number")
    table = pa.table(
        {
            "Email": ["p@example.com", "q@example.com", "bad"],
            "tags": [["a", "b"], None, ["c"]],
            "subscribed": [True, False, True],
            "last_clicked_at": pa.array(
                [dt.datetime(2025, 1, 2, 3, 4, 5), None, None], pa.timestamp("ms", tz="Europe/Berlin")
            ),
            "lifetime_value": pa.array([12.5, 3, None], pa.float64()),
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=2)
    job = new_job(env, "export.parquet")
    run_importer(upload(env, job, buf.getvalue()))
    done = job_of(env, job)
    assert (done.status, done.rows_imported, done.rows_rejected) == ("succeeded", 2, 1)
    people = {f["email"]: f for f in contacts(env).values()}
    assert people["p@example.com"]["tags"] == ["a", "b"]
    assert people["p@example.com"]["last_clicked_at"] == "2025-01-02T03:04:05Z"
    assert people["p@example.com"]["lifetime_value"] == 12.5
    assert people["q@example.com"]["subscribed"] is False and "tags" not in people["q@example.com"]


def test_xls_import_reads_the_named_sheet(env):
    import xlwt

    book = xlwt.Workbook()
    book.add_sheet("Notes").write(0, 0, "nothing here")
    sheet = book.add_sheet("Leads")
    for r, row in enumerate([["Email", "Age"], ["x@example.com", 33], ["y@example.com", "n/a"]]):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    buf = io.BytesIO()
    book.save(buf)
    job = new_job(env, "old.xls", sheet="Leads")
    run_importer(upload(env, job, buf.getvalue()))
    done = job_of(env, job)
    # y's bad age is dropped, y imports (values, not rows)
    assert (done.status, done.rows_imported, done.rows_rejected, done.values_dropped) == ("succeeded", 2, 0, 1)
    assert sorted((f["email"], f.get("age")) for f in contacts(env).values()) == [
        ("x@example.com", 33),
        ("y@example.com", None),
    ]
    line = report_lines(env, done)[1]
    assert line[:3] == ["3", "Age", "n/a"] and line[4] == "value dropped"


def test_missing_sheet_fails_the_job_with_the_sheet_names(env):
    import openpyxl as xl

    book = xl.Workbook()
    book.active.title = "Only"
    book.active.append(["Email"])
    buf = io.BytesIO()
    book.save(buf)
    job = new_job(env, "a.xlsx", sheet="Leads")
    run_importer(upload(env, job, buf.getvalue()))
    done = job_of(env, job)
    assert (done.status, done.error_code) == ("failed", "sheet_not_found")
    assert "Only" in done.error


def test_lost_race_on_an_email_key_updates_the_winner_and_gives_back_claimed_keys(env, monkeypatch):
    from audience.imports.collapse import Candidate
    from audience.imports.contact_writer import ContactWriter

    winner = contacts_repo.upsert(TENANT, "winner", {"phone": "+12024561111"})
    writer = ContactWriter(TENANT, "job-x")
    # The writer's batch look-up ran before the winner claimed the phone: it plans a new contact.
    monkeypatch.setattr(ContactWriter, "_owners", lambda self, candidates: {})
    candidate = Candidate(rows=[2], fields={"email": "new@example.com", "phone": "+12024561111", "city": "Rome"})
    [outcome] = writer.write_all([candidate])
    # email claimed first, phone lost: the claim is given back, then the row resolves to the winner by
    # phone... whose email is still free, so the winner gets it.
    assert outcome.reject is None and outcome.contact_id == winner.contact_id
    assert contacts(env)["winner"] == {"phone": "+12024561111", "email": "new@example.com", "city": "Rome"}
    assert contacts_repo.owner_of(TENANT, "email", "new@example.com") == "winner"
    assert set(contacts(env)) == {"winner"}
