"""/contacts: upsert (PUT), read, erase, list, and the segments a contact is in.

The body of PUT is the contact itself, ``{field: value, ...}`` (built-in and custom fields by name),
validated against the tenant's field catalog: an unknown field or a value of the wrong type is a
422 naming its JSON path. PUT replaces the fields; ``?merge=true`` keeps fields not sent and removes
those sent as null.
"""

from __future__ import annotations

from typing import Annotated, Any

from audience.contacts import use_cases
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, ConfigDict

from functions.api import pagination
from functions.api.routers.request_context import tenant_id

router = Router()

LISTING = "contacts"


class ContactOut(BaseModel):
    """``contact_id`` plus every field under its own name."""

    model_config = ConfigDict(extra="allow")

    contact_id: str
    created_at: str
    updated_at: str


class ContactList(BaseModel):
    items: list[ContactOut]
    next_token: str | None = None


class ContactSegment(BaseModel):
    id: str
    name: str
    type: str
    category: str | None = None
    public: bool
    source: str
    added_at: str


class ContactSegmentList(BaseModel):
    items: list[ContactSegment]


@router.get("/contacts", summary="List contacts", tags=["contacts"])
def list_contacts(
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> ContactList:
    tenant = tenant_id(router)
    page = use_cases.list_page(tenant, limit, pagination.decode(tenant, LISTING, next_token))
    return ContactList(
        items=[ContactOut(**c.as_row()) for c in page.items],
        next_token=pagination.encode(tenant, LISTING, page.next_key),
    )


@router.put(
    "/contacts/<contact_id>",
    summary="Create or replace a contact (fields validated against the field catalog)",
    tags=["contacts"],
    responses={
        200: {"description": "replaced", "content": {"application/json": {"model": ContactOut}}},
        201: {"description": "created", "content": {"application/json": {"model": ContactOut}}},
    },
)
def put_contact(
    contact_id: str,
    contact: Annotated[
        dict[str, Any], Body(description="{field: value, ...}", examples=[{"email": "ada@example.com"}])
    ],
    merge: Annotated[bool, Query(description="keep fields not sent; null removes a field")] = False,
) -> tuple[dict[str, Any], int]:
    tenant = tenant_id(router)
    stored, created = use_cases.upsert(tenant, contact_id, contact, merge=merge)
    return stored.as_row(), 201 if created else 200


@router.get("/contacts/<contact_id>", summary="Read a contact", tags=["contacts"])
def get_contact(contact_id: str) -> ContactOut:
    return ContactOut(**use_cases.get(tenant_id(router), contact_id).as_row())


@router.delete(
    "/contacts/<contact_id>",
    summary="Erase a contact and all its memberships",
    tags=["contacts"],
    responses={204: {"description": "erased"}},
)
def delete_contact(contact_id: str):
    use_cases.erase(tenant_id(router), contact_id)
    return Response(status_code=204, body=None)


@router.get("/contacts/<contact_id>/segments", summary="The segments a contact is in", tags=["contacts"])
def contact_segments(
    contact_id: str,
    live: Annotated[
        bool,
        Query(description="evaluate every dynamic segment now (categories and suppression applied), nothing written"),
    ] = False,
) -> ContactSegmentList:
    tenant = tenant_id(router)
    rows = use_cases.live_segments_of(tenant, contact_id) if live else use_cases.segments_of(tenant, contact_id)
    return ContactSegmentList(items=[ContactSegment(**s) for s in rows])
