"""GET/POST /categories and DELETE /categories/{name}: named groups of mutually exclusive segments.

A category still used by a segment cannot be deleted (409 naming the segments): removing it would
silently lift the exclusivity those segments rely on.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from audience.errors import Conflict, NotFound
from audience.storage import categories_repo, segments_repo
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict, Field

from functions.api.routers.request_context import tenant_id

router = Router()

MAX_NAME_CHARS = 100
NAME_PATTERN = r"^[^\x00-\x1f\x7f/]*[^\x00-\x1f\x7f/\s][^\x00-\x1f\x7f/]*$"


class CategoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=MAX_NAME_CHARS,
        pattern=NAME_PATTERN,
        description="1-100 characters, not blank, no '/' or control characters",
        examples=["lifecycle"],
    )
    description: str | None = Field(default=None, max_length=1000)


class CategoryOut(BaseModel):
    name: str
    description: str | None = None
    created_at: str


class CategoryList(BaseModel):
    items: list[CategoryOut]


@router.get("/categories", summary="List categories", tags=["categories"])
def list_categories() -> CategoryList:
    tenant = tenant_id(router)
    return CategoryList(
        items=[CategoryOut(**c.model_dump()) for c in sorted(categories_repo.list_all(tenant), key=lambda c: c.name)]
    )


@router.post("/categories", summary="Create a category", tags=["categories"], status_code=201)
def create_category(category: Annotated[CategoryIn, Body()]) -> tuple[dict[str, Any], int]:
    tenant = tenant_id(router)
    created = categories_repo.create(tenant, category.name.strip(), category.description)
    return CategoryOut(**created.model_dump()).model_dump(), 201


@router.delete(
    "/categories/<name>",
    summary="Delete a category (409 while segments use it)",
    tags=["categories"],
    responses={204: {"description": "deleted"}},
)
def delete_category(name: str):
    tenant = tenant_id(router)
    if not re.match(NAME_PATTERN, name) or len(name) > MAX_NAME_CHARS:
        raise NotFound(f"category {name[:100]!r} not found")  # no category can have this name
    categories_repo.get(tenant, name)
    users = sorted(s.id for s in segments_repo.all_segments(tenant) if s.category == name)
    if users:
        raise Conflict(
            f"category {name!r} is used by {len(users)} segment(s); move or delete them first",
            [{"path": "{name}", "message": f"used by segment {segment_id}"} for segment_id in users[:50]],
        )
    categories_repo.delete(tenant, name)
    return Response(status_code=204, body=None)
