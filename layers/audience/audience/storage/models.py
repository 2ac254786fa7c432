"""The table layout of docs/architecture.md as pynamodb models.

MainTable holds many item kinds under ``pk``/``sk``; each kind has its own model over the same
table. Key builders live next to the models so every module builds keys the same way, and every
partition key starts with the tenant.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from audience.storage.attributes import DocumentAttribute
from audience.storage.base import SettingsBoundModel, table_meta

MainMeta = table_meta(lambda s: s.main_table)
ContactsMeta = table_meta(lambda s: s.contacts_table)
MembershipsMeta = table_meta(lambda s: s.memberships_table)


# ---- keys -------------------------------------------------------------------------------------


def tenant_pk(tenant: str) -> str:
    return f"T#{tenant}"


def history_pk(tenant: str, segment_id: str) -> str:
    return f"T#{tenant}#SEG#{segment_id}"


def unique_pk(tenant: str, kind: str, value: str) -> str:
    """``kind`` is ``EMAIL`` or ``PHONE``; ``value`` already normalised."""
    return f"T#{tenant}#{kind}#{value}"


def run_pk(tenant: str) -> str:
    return f"T#{tenant}#RUN"


def membership_pk(tenant: str, segment_id: str) -> str:
    return f"{tenant}#{segment_id}"


def by_contact_pk(tenant: str, contact_id: str) -> str:
    return f"{tenant}#{contact_id}"


class _MainItem(SettingsBoundModel):
    Meta = MainMeta
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


# ---- MainTable ---------------------------------------------------------------------------------


class TenantItem(_MainItem):
    """sk = ``TENANT``."""

    Meta = MainMeta
    tenant_id = UnicodeAttribute()
    name = UnicodeAttribute()
    default_region = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()


class ApiKeyItem(_MainItem):
    """sk = ``APIKEY#{sha256(key)}``; the key itself is never stored."""

    Meta = MainMeta
    tenant_id = UnicodeAttribute()
    key_hash = UnicodeAttribute()
    scopes = ListAttribute(of=UnicodeAttribute)
    name = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    revoked = BooleanAttribute(default=False)


class SegmentItem(_MainItem):
    """sk = ``SEG#{segment_id}``; ``version`` gives optimistic locking (If-Match)."""

    Meta = MainMeta
    segment_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    segment_type = UnicodeAttribute(attr_name="type")
    rules = DocumentAttribute(null=True)  # the rule JSON (every rule form is an object)
    category = UnicodeAttribute(null=True)
    priority = NumberAttribute(default=0)
    public = BooleanAttribute(default=False)
    topics = ListAttribute(of=UnicodeAttribute, null=True)
    ignore_suppression = BooleanAttribute(default=False)
    member_count = NumberAttribute(default=0)
    last_evaluated_at = UnicodeAttribute(null=True)
    evaluation_status = UnicodeAttribute(null=True)
    evaluation_error = UnicodeAttribute(null=True)
    last_run = DocumentAttribute(null=True)  # the evaluator's figures of the last run (records.Segment)
    references = ListAttribute(of=UnicodeAttribute, null=True)  # segment ids its rules name
    # The open day of the real-time path (``storage.history_repo``): a lone stream change moves these
    # in the same conditional update as ``member_count`` instead of writing a history-day item.
    day = UnicodeAttribute(null=True)  # yyyy-mm-dd
    day_added = NumberAttribute(null=True)
    day_removed = NumberAttribute(null=True)
    day_total = NumberAttribute(null=True)
    day_at = UnicodeAttribute(null=True)  # when the open day was last written
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    version = VersionAttribute()


class CategoryItem(_MainItem):
    """sk = ``CAT#{name}``."""

    Meta = MainMeta
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()


class FieldItem(_MainItem):
    """sk = ``FIELD#{name}``: one custom field of the tenant's catalog."""

    Meta = MainMeta
    name = UnicodeAttribute()
    field_type = UnicodeAttribute(attr_name="type")
    label = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()


class CampaignItem(_MainItem):
    """sk = ``CAMP#{campaign_id}``."""

    Meta = MainMeta
    campaign_id = UnicodeAttribute()
    name = UnicodeAttribute()
    segment_ids = ListAttribute(of=UnicodeAttribute)
    start_at = UnicodeAttribute(null=True)
    end_at = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    version = VersionAttribute()


class JobItem(_MainItem):
    """sk = ``JOB#{job_id}``. Import jobs share the key space (written by ``audience.imports.jobs``)."""

    Meta = MainMeta
    job_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    status = UnicodeAttribute()
    segment_id = UnicodeAttribute(null=True)
    params = DocumentAttribute(null=True)
    counts = DocumentAttribute(null=True)
    result = DocumentAttribute(null=True)  # e.g. {"output_key": ..., "file_name": ...}
    error = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class SuppressionItem(_MainItem):
    """sk = ``SETTINGS#suppression``."""

    Meta = MainMeta
    document = DocumentAttribute()
    updated_at = UnicodeAttribute()
    version = VersionAttribute()


class HistoryDayItem(_MainItem):
    """pk = ``T#{tenant}#SEG#{segment_id}``, sk = ``DAY#{yyyy-mm-dd}`` (or ``DAY#{yyyy-mm-dd}#open``:
    a segment's open day written out when the next day opened, ``storage.history_repo``)."""

    Meta = MainMeta
    added = NumberAttribute(default=0)
    removed = NumberAttribute(default=0)
    total = NumberAttribute(default=0)
    at = UnicodeAttribute(null=True)  # when ``total`` was set (absent on items written before it existed)


class UniqueKeyItem(_MainItem):
    """pk = ``T#{tenant}#EMAIL#{email}`` or ``...#PHONE#{e164}``, sk = ``UNIQUE``."""

    Meta = MainMeta
    contact_id = UnicodeAttribute()


class RunItem(_MainItem):
    """pk = ``T#{tenant}#RUN``, sk = ``RUN#{run_id}``: one evaluation run, for idempotent retries."""

    Meta = MainMeta
    run_id = UnicodeAttribute()
    status = UnicodeAttribute()
    as_of = UnicodeAttribute(null=True)
    snapshot_id = UnicodeAttribute(null=True)
    detail = DocumentAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class LeaseItem(_MainItem):
    """pk = ``T#{tenant}#RUN``, sk = ``LEASE``: at most one evaluation per tenant at a time."""

    Meta = MainMeta
    owner = UnicodeAttribute()
    expires_at = NumberAttribute()  # epoch seconds


# ---- ContactsTable ----------------------------------------------------------------------------


class ContactsByUpdated(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_updated"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class ContactItem(SettingsBoundModel):
    """pk = tenant, sk = contact_id. An erased contact is a tombstone: no fields, ``erased``, ``ttl``."""

    Meta = ContactsMeta
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    fields = DocumentAttribute(default=dict)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    erased = BooleanAttribute(default=False)
    ttl = TTLAttribute(null=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    version = VersionAttribute()
    by_updated = ContactsByUpdated()


# ---- MembershipsTable -------------------------------------------------------------------------


class MembershipsByContact(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_contact"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class MembershipItem(SettingsBoundModel):
    """pk = ``{tenant}#{segment_id}``, sk = contact_id; GSI by_contact answers a contact's segments."""

    Meta = MembershipsMeta
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    source = UnicodeAttribute(null=True)  # absent: "dynamic" (``memberships_repo``)
    category = UnicodeAttribute(null=True)
    added_at = UnicodeAttribute()
    by_contact = MembershipsByContact()


ALL_MODELS = (
    TenantItem,
    ApiKeyItem,
    SegmentItem,
    CategoryItem,
    FieldItem,
    CampaignItem,
    JobItem,
    SuppressionItem,
    HistoryDayItem,
    UniqueKeyItem,
    RunItem,
    LeaseItem,
    ContactItem,
    MembershipItem,
)


class EventBatchItem(_MainItem):
    """sk = ``EVBATCH#{batch_id}``: one batch of activity events (an API request or an event file)."""

    Meta = MainMeta
    batch_id = UnicodeAttribute()
    source = UnicodeAttribute()  # "api" | "file"
    status = UnicodeAttribute()  # pending | ingested | failed
    accepted = NumberAttribute()
    ingested = NumberAttribute()
    rejected = NumberAttribute()
    errors = DocumentAttribute(null=True)  # {"errors": [{"index", "message"}], "truncated": bool}
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    ttl = TTLAttribute(null=True)  # MainTable's TTL: the record goes BATCH_RECORD_DAYS after it was written


class EventSettingsItem(_MainItem):
    """sk = ``SETTINGS#events``: the event log's retention."""

    Meta = MainMeta
    retention_days = NumberAttribute()
    updated_at = UnicodeAttribute()
