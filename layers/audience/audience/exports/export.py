"""The export use case: a segment's members, filtered, written page by page into one S3 object.

Members are read a page at a time (Query on the segment's memberships), their contacts fetched with
BatchGet, filtered (``added_since``, ``updated_since``, unsubscribed, suppression) and handed to the
format's writer, which writes into an S3 multipart upload. Nothing holds more than one page of
contacts (plus one upload part, or one Parquet row group), so a 1,000,000-member export runs in the
same memory as a 1,000-member one. Progress (rows written) is recorded on the job as it goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import quote

from audience.exports.request import CONTENT_TYPES, ExportSpec
from audience.exports.sink import S3MultipartSink
from audience.exports.writers import open_writer
from audience.fields import FieldCatalog
from audience.storage import contacts_repo, fields_repo, memberships_repo, segments_repo, suppression_repo
from audience.suppression import NO_SUPPRESSION, SuppressionPolicy, export_exclusion

PAGE_SIZE = 500
BATCH_GET_KEYS = 100  # DynamoDB's BatchGetItem limit
FETCH_THREADS = 5
PROGRESS_EVERY_SECONDS = 5.0
DOWNLOAD_URL_SECONDS = 3600
EXPORT_COUNTS = (
    "row_count",
    "members_read",
    "excluded_unsubscribed",
    "excluded_suppressed",
    "excluded_by_filter",
    "missing_contacts",
)


class ExportFailed(Exception):
    """The export cannot be produced for a reason the user can act on (the job's ``error``)."""


@dataclass
class ExportOutcome:
    object_key: str
    file_name: str
    counts: dict[str, int] = field(default_factory=dict)


def export_key(tenant: str, job_id: str, file_name: str) -> str:
    return f"tenants/{tenant}/exports/{job_id}/{file_name}"


def content_disposition(file_name: str) -> str:
    """``attachment`` with the (ASCII, sanitised) name and its RFC 5987 form."""
    return f"attachment; filename=\"{file_name}\"; filename*=UTF-8''{quote(file_name)}"


def run_export(
    tenant: str,
    job_id: str,
    segment_id: str,
    spec: ExportSpec,
    *,
    s3: Any,
    bucket: str,
    on_progress: Callable[[dict[str, int]], None] = lambda counts: None,
    page_size: int = PAGE_SIZE,
    as_of: datetime | None = None,
    part_size: int | None = None,
) -> ExportOutcome:
    segment = segments_repo.find(tenant, segment_id)
    if segment is None:
        raise ExportFailed(f"segment {segment_id!r} no longer exists")
    catalog = fields_repo.catalog(tenant)
    missing = [name for name in spec.columns if name not in catalog]
    if missing:
        raise ExportFailed(f"fields no longer in the catalog: {', '.join(missing)}")
    policy = NO_SUPPRESSION
    if not segment.ignore_suppression:
        policy = SuppressionPolicy.from_document(suppression_repo.get(tenant).document, catalog)
    as_of = as_of or datetime.now(UTC)
    events = None
    if policy.event_names and policy.rule is not None:
        from audience.exports.activity import load_for_policy  # pyarrow: only when a rule needs events

        events = load_for_policy(tenant, policy, s3=s3, as_of=as_of)
    added_since = _instant(spec.added_since)
    selection = _Selection(policy, segment.ignore_suppression, _instant(spec.updated_since), as_of, catalog, events)

    if spec.changes_since:  # a delta: who joined or left, from the membership history
        from audience.exports.delta import run_delta_export

        return run_delta_export(tenant, job_id, segment_id, spec, selection, s3=s3, bucket=bucket,
                                page_size=page_size, part_size=part_size)
    key = export_key(tenant, job_id, spec.file_name)
    sink = open_sink(s3, bucket, key, spec, part_size)
    counts = dict.fromkeys(EXPORT_COUNTS, 0)
    last_report = time.monotonic()
    try:
        writer = open_writer(spec.format, sink, spec.columns, catalog)
        pages = member_pages(tenant, segment_id, page_size, with_added_at=added_since is not None)
        for memberships, _ in pages:
            counts["members_read"] += len(memberships)
            if added_since is not None:
                kept = [m for m in memberships if _instant(m.added_at) >= added_since]
                counts["excluded_by_filter"] += len(memberships) - len(kept)
                memberships = kept
            rows = _page_rows(tenant, memberships, counts, selection)
            counts["row_count"] += writer.write_rows(rows)
            if time.monotonic() - last_report >= PROGRESS_EVERY_SECONDS:
                on_progress(dict(counts))
                last_report = time.monotonic()
        writer.close()
        sink.complete()
    except BaseException:
        sink.abort()
        raise
    counts["bytes"] = sink.bytes_written
    return ExportOutcome(object_key=key, file_name=spec.file_name, counts=counts)


def open_sink(s3: Any, bucket: str, key: str, spec: ExportSpec, part_size: int | None) -> S3MultipartSink:
    sink_options: dict[str, Any] = {"part_size": part_size} if part_size else {}
    return S3MultipartSink(
        s3,
        bucket,
        key,
        content_type=CONTENT_TYPES[spec.format],
        content_disposition=content_disposition(spec.file_name),
        **sink_options,
    )


class Member(NamedTuple):
    """What a job needs of one membership: the contact, and when it joined (if asked for)."""

    contact_id: str
    added_at: str | None = None


def member_pages(
    tenant: str, segment_id: str, page_size: int, after: str | None = None, *, with_added_at: bool = False
) -> Iterator[tuple[list[Member], str | None]]:
    """The segment's members (from after contact ``after``) in pages of ``page_size``, each with
    the contact id the next page starts after (None after the last page): a checkpoint a long job
    can resume from. DynamoDB is read in Query pages of up to 1 MB (thousands of members) that
    return only the contact id (and ``added_at`` when ``with_added_at``)."""
    page: list[Member] = []
    rows = memberships_repo.iter_segment_ids(tenant, segment_id, after_contact_id=after, with_added_at=with_added_at)
    for contact_id, added_at in rows:
        if len(page) == page_size:
            yield page, page[-1].contact_id
            page = []
        page.append(Member(contact_id, added_at))
    yield page, None


@dataclass(frozen=True)
class _Selection:
    """Which of a page's contacts go into the file, besides the membership filter."""

    policy: SuppressionPolicy
    ignore_suppression: bool
    updated_since: datetime | None
    as_of: datetime
    catalog: FieldCatalog
    events: Any = None  # activity.EventsByContact when the suppression rule looks at events


def _page_rows(
    tenant: str, memberships: list[Member], counts: dict[str, int], selection: _Selection
) -> list[dict[str, Any]]:
    ids = [m.contact_id for m in memberships]
    contacts = fetch_contacts(tenant, ids)
    member_of = _page_membership(tenant, selection.policy, ids)
    rows = []
    for contact_id in ids:  # membership order (contact id order), whatever order BatchGet answered in
        contact = contacts.get(contact_id)
        if contact is None:
            counts["missing_contacts"] += 1  # erased since it was placed; its membership goes with it
            continue
        if selection.updated_since is not None and _instant(contact.updated_at) < selection.updated_since:
            counts["excluded_by_filter"] += 1
            continue
        row = contact.as_row()
        reason = export_exclusion(
            row,
            selection.policy,
            ignore_suppression=selection.ignore_suppression,
            as_of=selection.as_of,
            catalog=selection.catalog,
            events=selection.events.events_for(contact_id) if selection.events is not None else (),
            member_of=member_of(contact_id) if member_of else None,
        )
        if reason is not None:
            counts[f"excluded_{reason}"] += 1
            continue
        rows.append(row)
    return rows


def fetch_contacts(tenant: str, ids: list[str]) -> dict[str, Any]:
    """The live contacts among ``ids``: BatchGets of 100 sent concurrently (a page costs one round
    trip of latency instead of five)."""
    chunks = [ids[start : start + BATCH_GET_KEYS] for start in range(0, len(ids), BATCH_GET_KEYS)]
    if len(chunks) <= 1:
        return contacts_repo.get_many(tenant, ids) if ids else {}
    found: dict[str, Any] = {}
    with ThreadPoolExecutor(max_workers=min(len(chunks), FETCH_THREADS)) as pool:
        for part in pool.map(lambda chunk: contacts_repo.get_many(tenant, chunk), chunks):
            found.update(part)
    return found


def _page_membership(
    tenant: str, policy: SuppressionPolicy, ids: list[str]
) -> Callable[[str], Callable[[str], bool]] | None:
    """For rules naming segments: one BatchGet per referenced segment per page, not per contact."""
    if policy.rule is None or not policy.segment_ids or not ids:
        return None
    members = {sid: memberships_repo.existing(tenant, sid, ids) for sid in policy.segment_ids}
    return lambda contact_id: lambda segment_id: contact_id in members.get(segment_id, ())


def presigned_download_url(s3: Any, bucket: str, key: str, expires_in: int = DOWNLOAD_URL_SECONDS) -> str | None:
    """A GET URL for the finished file, or None when the file is gone (expired by lifecycle)."""
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in)


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
