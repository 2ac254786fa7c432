"""Trust routes: explain a membership, preview a rule change, membership history.

``preview-change`` reads Parquet snapshots with pyarrow, so its module is imported inside the
handler (the other routes never load pyarrow).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from audience.json_types import DateOrDateTime, RuleJson
from audience.trust.explain import explain as explain_membership
from audience.trust.history import contact_history, segment_history
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, ConfigDict, Field

from functions.api import pagination
from functions.api.routers.request_context import tenant_id

router = Router()

Limit = Annotated[int, Query(ge=1, le=500, description="page size, 1-500")]
NextToken = Annotated[str | None, Query(max_length=2048, description="from the previous page")]


class Explanation(BaseModel):
    segment_id: str
    contact_id: str
    as_of: str
    member: bool = Field(description="stored membership")
    matches: bool = Field(description="the segment's rules evaluated now on the contact")
    reason: Literal["rules_matched", "rules_not_matched", "unsubscribed", "suppressed", "placed_in_other_segment",
                    "static_member", "not_a_member"]
    placed_in: str | None = Field(default=None, description="the segment of the category that holds the contact")
    suppressed: bool | None = None
    tree: dict[str, Any] | None = Field(description='the rule with "result" on every node, "actual" on conditions')


class ChangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: RuleJson


class ChangePreview(BaseModel):
    count_now: int
    count_after: int
    entering: int
    leaving: int
    sample_entering: list[str] = Field(description="up to 10 contact ids")
    sample_leaving: list[str] = Field(description="up to 10 contact ids")
    snapshot_id: str
    as_of: str


class HistoryEntry(BaseModel):
    segment_id: str
    contact_id: str
    change: Literal["joined", "left"]
    at: str
    source: Literal["run", "api", "import", "transfer", "stream"]
    run_id: str | None = None
    rules_version: int | None = None


class HistoryPage(BaseModel):
    items: list[HistoryEntry]
    next_token: str | None = None


def _ok(model: type[BaseModel]) -> dict[str, Any]:
    return {200: {"description": "OK", "content": {"application/json": {"model": model}}}}


@router.get(
    "/segments/<segment_id>/explain/<contact_id>",
    summary="Why a contact is (or is not) in a segment, evaluated now; nothing written",
    tags=["segments"],
    responses=_ok(Explanation),
)
def explain(segment_id: str, contact_id: str) -> dict[str, Any]:
    return explain_membership(tenant_id(router), segment_id, contact_id)


@router.post(
    "/segments/<segment_id>/preview-change",
    summary="What saving these rules would change (over the newest snapshot); nothing saved",
    tags=["segments"],
    responses=_ok(ChangePreview),
)
def preview_change(segment_id: str, request: Annotated[ChangeRequest, Body()]) -> dict[str, Any]:
    from audience.trust.preview_change import preview_change as run_preview_change

    return run_preview_change(tenant_id(router), segment_id, request.rules)


@router.get(
    "/contacts/<contact_id>/history",
    summary="The contact's membership changes, newest first",
    tags=["contacts"],
    responses=_ok(HistoryPage),
)
def history_of_contact(contact_id: str, limit: Limit = 50, next_token: NextToken = None) -> dict[str, Any]:
    tenant = tenant_id(router)
    listing = f"history:contact:{contact_id}"
    page = contact_history(tenant, contact_id, limit=limit, start_key=pagination.decode(tenant, listing, next_token))
    return {"items": page.items, "next_token": pagination.encode(tenant, listing, page.next_key)}


@router.get(
    "/segments/<segment_id>/history",
    summary="The segment's membership changes, newest first (since: ISO time)",
    tags=["segments"],
    responses=_ok(HistoryPage),
)
def history_of_segment(
    segment_id: str,
    since: Annotated[
        DateOrDateTime | None, Query(max_length=64, description="ISO 8601 time; only changes at or after it")
    ] = None,
    limit: Limit = 50,
    next_token: NextToken = None,
) -> dict[str, Any]:
    tenant = tenant_id(router)
    listing = f"history:segment:{segment_id}:{since or ''}"
    page = segment_history(tenant, segment_id, since=since, limit=limit,
                           start_key=pagination.decode(tenant, listing, next_token))
    return {"items": page.items, "next_token": pagination.encode(tenant, listing, page.next_key)}
