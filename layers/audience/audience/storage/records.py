"""What the storage layer hands out: plain pydantic records, not pynamodb items.

Callers (use cases, the API, the evaluator) never touch pynamodb objects, so the table layout can
change without touching them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SegmentType = Literal["static", "dynamic"]
JobStatus = Literal["pending", "running", "succeeded", "failed"]
CampaignStatus = Literal["draft", "scheduled", "active", "paused", "completed", "cancelled"]
MembershipSource = Literal["static", "dynamic", "import", "transfer"]


class _Record(BaseModel):
    """Each record's validator is built on its first use, not at import: a function pays only for the
    records it hands out (the authorizer's cold start reads API keys alone)."""

    model_config = ConfigDict(defer_build=True)


class Page(_Record):
    """One page of a Query; ``next_key`` is the DynamoDB key to resume from (None: no more)."""

    items: list[Any]
    next_key: dict[str, str] | None = None


class Tenant(_Record):
    tenant_id: str
    name: str
    default_region: str | None = None
    created_at: str


class ApiKey(_Record):
    tenant_id: str
    key_hash: str
    scopes: list[str]
    name: str | None = None
    created_at: str
    revoked: bool = False


class Segment(_Record):
    id: str
    name: str
    description: str | None = None
    type: SegmentType
    rules: dict[str, Any] | None = None
    category: str | None = None
    priority: int = 0
    public: bool = False
    topics: list[str] = Field(default_factory=list)
    ignore_suppression: bool = False
    member_count: int = 0
    last_evaluated_at: str | None = None
    evaluation_status: str | None = None
    evaluation_error: str | None = None
    # last evaluation run: run_id, duration_ms (whole run), pass_ms (the one pass shared by
    # segments_in_pass segments), write_ms (this segment's own diff and writes), writes_ms (every
    # segment's, a few written at once), added, removed, snapshot_cut (newest contact change its snapshot saw)
    last_run: dict[str, Any] | None = None
    references: list[str] = Field(default_factory=list)
    created_at: str
    updated_at: str
    version: int


class Category(_Record):
    name: str
    description: str | None = None
    created_at: str


class CustomField(_Record):
    name: str
    type: str
    label: str | None = None
    created_at: str


class Campaign(_Record):
    id: str
    name: str
    segment_ids: list[str]
    start_at: str | None = None
    end_at: str | None = None
    status: CampaignStatus
    created_at: str
    updated_at: str
    version: int

    def is_live(self, now_iso: str) -> bool:
        """Scheduled or running and not yet ended: its segments must not disappear under it."""
        if self.status not in ("scheduled", "active"):
            return False
        return self.end_at is None or self.end_at >= now_iso


class Job(_Record):
    job_id: str
    kind: str
    status: JobStatus
    segment_id: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    counts: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    created_at: str
    updated_at: str


class SuppressionSettings(_Record):
    document: dict[str, Any] = Field(default_factory=dict)
    updated_at: str | None = None
    version: int = 0


class HistoryDay(_Record):
    date: str
    added: int = 0
    removed: int = 0
    total: int = 0


class Contact(_Record):
    contact_id: str
    fields: dict[str, Any] = Field(default_factory=dict)
    created_at: str
    updated_at: str
    erased: bool = False
    version: int

    def as_row(self) -> dict[str, Any]:
        """The API shape: ``contact_id`` plus every field under its own name."""
        return {
            **self.fields,
            "contact_id": self.contact_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class Membership(_Record):
    segment_id: str
    contact_id: str
    source: MembershipSource
    category: str | None = None
    added_at: str


class Run(_Record):
    run_id: str
    status: str
    as_of: str | None = None
    snapshot_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    created_at: str
    updated_at: str
