"""The export use case: a segment's members, filtered, written batch by batch into one S3 object.

Members come as one sorted array of ids (``members``: a dynamic segment's last-run Parquet
corrected for the stream, or the membership table), their contacts as typed Arrow batches from the
newest snapshot patched with what changed since (``contact_source``; BatchGets only without a usable
snapshot). Each batch is filtered at once (``selection``: updated_since, unsubscribed, suppression)
and handed to the format's writer, which writes into an S3 multipart upload. Memory holds the member
ids, one snapshot file's needed columns and one upload part, never the segment's contacts. Progress
(rows written so far) is recorded on the job as it goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import quote

from audience.exports.request import CONTENT_TYPES, ExportSpec
from audience.exports.sink import S3MultipartSink
from audience.exports.writers import open_writer
from audience.settings import get_settings
from audience.storage import fields_repo, memberships_repo, segments_repo, suppression_repo
from audience.suppression import NO_SUPPRESSION, SuppressionPolicy

PAGE_SIZE = 500  # members per page of a bulk job (mass update, score reset)
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
    sources: dict[str, str] = field(default_factory=dict)  # where members and contacts were read from


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
    as_of: datetime | None = None,
    part_size: int | None = None,
    data_bucket: str | None = None,
    member_source: Callable[..., Any] | None = None,
) -> ExportOutcome:
    """Write the export's file; ``member_source`` (default ``members.segment_members``, same
    signature, answering a ``members.Members``) decides who is in it — the seam for other selections
    of the segment's contacts, such as a delta since a moment."""
    from audience.exports import members as member_sets  # pyarrow: exporter only
    from audience.exports.activity import events_for_policy
    from audience.exports.contact_source import ContactSource
    from audience.exports.selection import Selection

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
    data_bucket = data_bucket or get_settings().data_bucket
    added_since, updated_since = _instant(spec.added_since), _instant(spec.updated_since)

    needed = [*spec.columns, *sorted(Selection.columns(policy, updated_since) - set(spec.columns))]
    contacts = ContactSource(tenant, catalog, needed, s3=s3, bucket=data_bucket)
    counts = dict.fromkeys(EXPORT_COUNTS, 0)
    changes = None
    if spec.changes_since:  # a delta: who joined or left since then, from the membership history
        from audience.exports import delta

        changes = delta.changed_members(tenant, segment_id, spec.changes_since)
        counts.update(members_read=len(changes), added=0, removed=0)
        source, wanted = "history", len(changes)
    else:
        member_source = member_source or member_sets.segment_members
        found = member_source(tenant, segment, s3, data_bucket, with_added_at=added_since is not None,
                              erased=contacts.erased_ids)
        counts["members_read"] = len(found.ids)
        ids = found.ids
        if added_since is not None:
            ids = member_sets.joined_since(found, added_since)
            counts["excluded_by_filter"] += len(found.ids) - len(ids)
        source, wanted = found.source, len(ids)

    def members_of(other: str):
        referenced = segments_repo.find(tenant, other)
        if referenced is None:
            return member_sets.EMPTY
        return member_sets.segment_members(tenant, referenced, s3, data_bucket, erased=contacts.erased_ids).ids

    selection = Selection.build(
        policy, ignore_suppression=segment.ignore_suppression, updated_since=updated_since, as_of=as_of,
        catalog=catalog, events=lambda: events_for_policy(tenant, policy, s3=s3, as_of=as_of), members_of=members_of,
    )
    key = export_key(tenant, job_id, spec.file_name)
    sink = open_sink(s3, bucket, key, spec, part_size)
    live = 0
    last_report = time.monotonic()
    try:
        writer = open_writer(spec.format, sink, spec.columns, catalog, action_column=changes is not None)
        if changes is not None:
            for batch, action, read in delta.change_batches(changes, contacts, selection, counts):
                live += read
                written = delta.write_changes(writer, batch, action)
                counts["row_count"] += written
                counts["added" if action == "add" else "removed"] += written
        else:
            for batch in contacts.batches(ids):
                live += batch.num_rows
                counts["row_count"] += writer.write_batch(selection.apply(batch, counts))
                if time.monotonic() - last_report >= PROGRESS_EVERY_SECONDS:
                    on_progress(dict(counts))
                    last_report = time.monotonic()
        writer.close()
        sink.complete()
    except BaseException:
        sink.abort()
        raise
    counts["missing_contacts"] = wanted - live  # erased since they were placed
    counts["bytes"] = sink.bytes_written
    return ExportOutcome(object_key=key, file_name=spec.file_name, counts=counts,
                         sources={"members": source, "contacts": contacts.kind})


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
