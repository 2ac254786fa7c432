"""Segment routes: CRUD, clone, members, transfer, save-as-list, uses and stats.

Thin: parse and validate the request (pydantic models from ``audience.segments.inputs``), take the
tenant from the authorizer context, call one use case, shape the answer. Errors are domain errors
that the app maps to SPEC's error body.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from audience.segments.clone import clone_segment
from audience.segments.create import create_segment
from audience.segments.delete import delete_segment
from audience.segments.inputs import (
    CloneRequest,
    MembersRequest,
    SaveAsListRequest,
    SegmentDraft,
    SegmentPatch,
    SegmentReplacement,
    TransferRequest,
)
from audience.segments.members import add_members, list_members, remove_members
from audience.segments.read import get_segment, list_segments
from audience.segments.save_as_list import save_as_list
from audience.segments.stats import segment_stats
from audience.segments.transfer import transfer
from audience.segments.update import patch_segment, replace_segment
from audience.segments.uses import segment_uses
from audience.segments.view import present
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, Field

from functions.api import pagination
from functions.api.routers.request_context import if_match, tenant_id

router = Router()
TAGS = ["segments"]

Limit = Annotated[int, Query(ge=1, le=500, description="page size, 1-500")]
DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
A_DATE: dict[str, Any] = {"description": "yyyy-mm-dd", "json_schema_extra": {"format": "date"}}
"""A calendar date, not only its shape: 2024-02-30 is refused (422), so the document says ``format: date``."""
NextToken = Annotated[str | None, Query(max_length=2048, description="from the previous page")]


class LastRun(BaseModel):
    """The evaluator's figures of the segment's last run."""

    run_id: str
    duration_ms: int = Field(description="the whole run (every segment evaluated in it)")
    pass_ms: int = Field(description="the one pass over the snapshot, shared by segments_in_pass segments")
    segments_in_pass: int
    write_ms: int = Field(description="this segment's own share: its diff and membership writes")
    added: int
    removed: int
    snapshot_cut: str | None = Field(default=None, description="newest contact change the run's snapshot saw")


class SegmentOut(BaseModel):
    id: str
    name: str
    description: str | None = None
    type: Literal["static", "dynamic"]
    rules: dict[str, Any] | None = None
    category: str | None = None
    priority: int
    public: bool
    topics: list[str]
    ignore_suppression: bool
    version: int
    member_count: int
    last_evaluated_at: str | None = None
    evaluation_status: str | None = None
    evaluation_error: str | None = None
    last_run: LastRun | None = None
    created_at: str
    updated_at: str


class SegmentPage(BaseModel):
    items: list[SegmentOut]
    next_token: str | None = None


class MemberPage(BaseModel):
    items: list[dict[str, Any]]
    next_token: str | None = None


def _ok(model: type[BaseModel], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"model": model}}}


def _members_listing(segment_id: str) -> str:
    return f"members:{segment_id}"


@router.post("/segments", summary="Create a segment", tags=TAGS, responses={201: _ok(SegmentOut, "created")})
def create(draft: Annotated[SegmentDraft, Body()]) -> tuple[dict[str, Any], int]:
    return present(create_segment(tenant_id(router), draft)), 201


@router.get("/segments", summary="List segments", tags=TAGS, responses={200: _ok(SegmentPage)})
def list_(
    category: Annotated[str | None, Query(max_length=100)] = None,
    segment_type: Annotated[Literal["static", "dynamic"] | None, Query(alias="type")] = None,
    public: Annotated[bool | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=200, description="name contains (any case)")] = None,
    limit: Limit = 50,
    next_token: NextToken = None,
) -> dict[str, Any]:
    tenant = tenant_id(router)
    page = list_segments(
        tenant,
        category=category,
        segment_type=segment_type,
        public=public,
        q=q,
        limit=limit,
        start_key=pagination.decode(tenant, "segments", next_token),
    )
    return {
        "items": [present(s) for s in page.items],
        "next_token": pagination.encode(tenant, "segments", page.next_key),
    }


@router.get("/segments/<segment_id>", summary="Read a segment", tags=TAGS, responses={200: _ok(SegmentOut)})
def read(segment_id: str) -> dict[str, Any]:
    return present(get_segment(tenant_id(router), segment_id))


@router.put(
    "/segments/<segment_id>",
    summary="Replace a segment (If-Match: version makes it conditional)",
    description="The whole definition is replaced; `type` may be left out (a segment's type never changes, "
    "and a given one must be the segment's), and the rules must fit the type: none for static, some for dynamic.",
    tags=TAGS,
    responses={200: _ok(SegmentOut)},
)
def replace(segment_id: str, draft: Annotated[SegmentReplacement, Body()]) -> dict[str, Any]:
    return present(replace_segment(tenant_id(router), segment_id, draft, if_match=if_match(router)))


@router.patch(
    "/segments/<segment_id>",
    summary="Change some fields of a segment (If-Match: version makes it conditional)",
    tags=TAGS,
    responses={200: _ok(SegmentOut)},
)
def patch(segment_id: str, changes: Annotated[SegmentPatch, Body()]) -> dict[str, Any]:
    return present(patch_segment(tenant_id(router), segment_id, changes, if_match=if_match(router)))


@router.delete(
    "/segments/<segment_id>",
    summary="Delete a segment (409 while used, unless force=true); members' contacts are kept",
    tags=TAGS,
)
def delete(segment_id: str, force: Annotated[bool, Query()] = False) -> dict[str, Any]:
    return delete_segment(tenant_id(router), segment_id, if_match=if_match(router), force=force)


@router.post(
    "/segments/<segment_id>/clone",
    summary="Copy a segment under a new name",
    tags=TAGS,
    responses={201: _ok(SegmentOut, "created")},
)
def clone(segment_id: str, request: Annotated[CloneRequest, Body()]) -> tuple[dict[str, Any], int]:
    return present(clone_segment(tenant_id(router), segment_id, request)), 201


@router.get(
    "/segments/<segment_id>/members",
    summary="Members joined with their contact fields",
    tags=TAGS,
    responses={200: _ok(MemberPage)},
)
def members(
    segment_id: str,
    fields: Annotated[str | None, Query(max_length=5000, description="comma-separated field names")] = None,
    limit: Limit = 50,
    next_token: NextToken = None,
) -> dict[str, Any]:
    tenant = tenant_id(router)
    wanted = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    page = list_members(
        tenant,
        segment_id,
        fields=wanted,
        limit=limit,
        start_key=pagination.decode(tenant, _members_listing(segment_id), next_token),
    )
    return {
        "items": page.items,
        "next_token": pagination.encode(tenant, _members_listing(segment_id), page.next_key),
    }


@router.post("/segments/<segment_id>/members", summary="Add contacts to a static segment", tags=TAGS)
def add(segment_id: str, request: Annotated[MembersRequest, Body()]) -> dict[str, Any]:
    return add_members(tenant_id(router), segment_id, request.contact_ids)


@router.delete(
    "/segments/<segment_id>/members",
    summary="Remove the given contacts (body contact_ids) or all with all=true; contacts are kept",
    description="Without a body and without all=true nothing is named, so nothing is removed (200, removed 0).",
    tags=TAGS,
)
def remove(
    segment_id: str,
    request: Annotated[MembersRequest | None, Body()] = None,
    all: Annotated[bool, Query()] = False,  # noqa: A002 - SPEC's parameter name
) -> dict[str, Any]:
    if all:
        return remove_members(tenant_id(router), segment_id, None)
    return remove_members(tenant_id(router), segment_id, request.contact_ids if request else [])


@router.post("/segments/<segment_id>/transfer", summary="Move members into a static segment", tags=TAGS)
def transfer_members(segment_id: str, request: Annotated[TransferRequest, Body()]) -> dict[str, Any]:
    return transfer(tenant_id(router), segment_id, request.contact_ids, request.to)


@router.post(
    "/segments/<segment_id>/save-as-list",
    summary="New static segment holding the current members",
    tags=TAGS,
    responses={201: _ok(SegmentOut, "created")},
)
def save_list(segment_id: str, request: Annotated[SaveAsListRequest, Body()]) -> tuple[dict[str, Any], int]:
    return present(save_as_list(tenant_id(router), segment_id, request)), 201


@router.get("/segments/<segment_id>/uses", summary="Segments and campaigns that use this segment", tags=TAGS)
def uses(segment_id: str) -> dict[str, Any]:
    return segment_uses(tenant_id(router), segment_id)


@router.get("/segments/<segment_id>/stats", summary="Size, daily changes and campaigns", tags=TAGS)
def stats(
    segment_id: str,
    date_from: Annotated[str | None, Query(alias="from", max_length=10, pattern=DATE, **A_DATE)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=10, pattern=DATE, **A_DATE)] = None,
) -> dict[str, Any]:
    return segment_stats(tenant_id(router), segment_id, date_from=date_from, date_to=date_to)
