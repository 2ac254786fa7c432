"""/campaigns: just enough of a campaign for segment stats, ``uses`` and delete protection.

Only public segments may be a campaign's audience: a non-public or unknown segment id is a 422
naming ``/segment_ids/{i}``. A completed or cancelled campaign is final (409 on further changes).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from audience.errors import Conflict, NotFound, ValidationFailed
from audience.instants import in_utc
from audience.json_types import SEGMENT_ID, may_be_absent, tenant_name
from audience.storage import campaigns_repo, segments_repo
from audience.storage.records import Campaign
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from functions.api import pagination
from functions.api.routers.request_context import if_match, tenant_id

router = Router()

LISTING = "campaigns"
Status = Literal["draft", "scheduled", "active", "paused", "completed", "cancelled"]
FINAL_STATUSES = frozenset({"completed", "cancelled"})
PublicSegmentId = Annotated[
    str, Field(min_length=1, max_length=100, description="a public segment", json_schema_extra=tenant_name(SEGMENT_ID))
]
SegmentIds = Annotated[list[PublicSegmentId], Field(min_length=1, max_length=100)]


def _text_only(value: Any) -> Any:
    if value is not None and not isinstance(value, str):
        raise ValueError("expected an RFC 3339 date-time string")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_text_only), AfterValidator(in_utc)]
"""An RFC 3339 date-time with its offset, as the document's ``format: date-time`` says: text only
(pydantic alone would also take a number of seconds since 1970), and one UTC can hold."""


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Window(BaseModel):
    @model_validator(mode="after")
    def _start_before_end(self):
        start, end = getattr(self, "start_at", None), getattr(self, "end_at", None)
        if start is not None and end is not None and end < start:
            raise ValueError("end_at must not be before start_at")
        return self


class CampaignIn(_Window):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    segment_ids: SegmentIds
    start_at: Instant | None = None
    end_at: Instant | None = None
    status: Status = "draft"


class CampaignPatch(_Window):
    model_config = ConfigDict(extra="forbid")

    """Some fields of a campaign; an absent one is left as it is. ``null`` clears ``start_at`` or
    ``end_at``; the others cannot be cleared, so the document does not make them nullable."""

    name: str = may_be_absent(min_length=1, max_length=200)
    segment_ids: SegmentIds = may_be_absent()
    start_at: Instant | None = None
    end_at: Instant | None = None
    status: Status = may_be_absent()


class CampaignOut(BaseModel):
    id: str
    name: str
    segment_ids: list[str]
    start_at: str | None = None
    end_at: str | None = None
    status: Status
    version: int
    created_at: str
    updated_at: str


class CampaignList(BaseModel):
    items: list[CampaignOut]
    next_token: str | None = None


MAX_ID_CHARS = 100


def _campaign(tenant: str, campaign_id: str) -> Campaign:
    """The campaign, or 404; an id no campaign can have is not sent to DynamoDB (key size limit)."""
    if not 0 < len(campaign_id) <= MAX_ID_CHARS:
        raise NotFound(f"campaign {campaign_id[:100]!r} not found")
    return campaigns_repo.get(tenant, campaign_id)


def _out(campaign: Campaign) -> CampaignOut:
    return CampaignOut(**campaign.model_dump(exclude={"is_live"}))


def _check_audience(tenant: str, segment_ids: list[str]) -> list[str]:
    """The ids, de-duplicated, after checking each names a public segment of this tenant."""
    unique = list(dict.fromkeys(segment_ids))
    found = segments_repo.get_many(tenant, unique)
    details = []
    for index, segment_id in enumerate(segment_ids):
        segment = found.get(segment_id)
        if segment is None:
            details.append({"path": f"/segment_ids/{index}", "message": "no such segment"})
        elif not segment.public:
            details.append(
                {
                    "path": f"/segment_ids/{index}",
                    "message": "only public segments can be a campaign's audience",
                }
            )
    if details:
        raise ValidationFailed("the campaign's audience is invalid", details)
    return unique


@router.post("/campaigns", summary="Create a campaign", tags=["campaigns"], status_code=201)
def create_campaign(campaign: Annotated[CampaignIn, Body()]) -> tuple[dict[str, Any], int]:
    tenant = tenant_id(router)
    created = campaigns_repo.create(
        tenant,
        name=campaign.name.strip(),
        segment_ids=_check_audience(tenant, campaign.segment_ids),
        start_at=_iso(campaign.start_at),
        end_at=_iso(campaign.end_at),
        status=campaign.status,
    )
    return _out(created).model_dump(), 201


@router.get("/campaigns", summary="List campaigns", tags=["campaigns"])
def list_campaigns(
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> CampaignList:
    tenant = tenant_id(router)
    page = campaigns_repo.list_page(tenant, limit, pagination.decode(tenant, LISTING, next_token))
    return CampaignList(
        items=[_out(c) for c in page.items], next_token=pagination.encode(tenant, LISTING, page.next_key)
    )


@router.get("/campaigns/<campaign_id>", summary="Read a campaign", tags=["campaigns"])
def get_campaign(campaign_id: str) -> CampaignOut:
    return _out(_campaign(tenant_id(router), campaign_id))


@router.patch(
    "/campaigns/<campaign_id>",
    summary="Change a campaign (If-Match: <version> makes it conditional)",
    tags=["campaigns"],
)
def patch_campaign(campaign_id: str, patch: Annotated[CampaignPatch, Body()]) -> CampaignOut:
    tenant = tenant_id(router)
    expected = if_match(router)
    current = _campaign(tenant, campaign_id)
    if current.status in FINAL_STATUSES:
        raise Conflict(f"campaign {campaign_id!r} is {current.status} and can no longer change")
    sent = patch.model_fields_set
    changes: dict[str, Any] = {}
    for name in ("name", "status"):
        if name in sent:
            changes[name] = getattr(patch, name)
    if "segment_ids" in sent:
        changes["segment_ids"] = _check_audience(tenant, patch.segment_ids)
    for name in ("start_at", "end_at"):
        if name in sent:
            changes[name] = _iso(getattr(patch, name))
    start = changes.get("start_at", current.start_at) if "start_at" in sent else current.start_at
    end = changes.get("end_at", current.end_at) if "end_at" in sent else current.end_at
    if start and end and end < start:
        raise ValidationFailed("invalid change", [{"path": "/end_at", "message": "must not be before start_at"}])
    if not changes:
        return _out(current)
    return _out(campaigns_repo.update(tenant, campaign_id, changes, expected_version=expected))
