"""Evaluation routes: re-evaluate a segment now (queued), preview unsaved rules, bulk-create segments.

The modules doing the work read Parquet snapshots with pyarrow, so they are imported inside the
handlers: the API's cold start (and the import check in tests/unit/api) never loads pyarrow for the
other routes.
"""

from __future__ import annotations

from typing import Annotated, Any

from audience.errors import ValidationFailed
from audience.evaluation.requests import request_evaluation
from audience.json_types import FIELD_NAME, RuleJson, tenant_name
from audience.segments.definition import check_definition
from audience.segments.inputs import CategoryName
from audience.segments.view import present
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, ConfigDict, Field

from functions.api.routers.request_context import tenant_id

router = Router()
TAGS = ["segments"]


class EvaluateAccepted(BaseModel):
    run_id: str


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: RuleJson
    sample_size: int = Field(default=20, ge=0, le=100)


class PreviewAnswer(BaseModel):
    count: int
    sample: list[dict[str, Any]]
    snapshot_id: str
    as_of: str


class BulkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(
        min_length=1, max_length=100, json_schema_extra={**tenant_name(FIELD_NAME), "not": {"const": "contact_id"}}
    )
    name_prefix: str = Field(default="", max_length=150)
    rules: RuleJson | None = None
    category: CategoryName | None = None


class BulkValue(BaseModel):
    value: Any
    contacts: int
    name: str


class BulkAnswer(BaseModel):
    count: int
    values: list[BulkValue]
    segments: list[dict[str, Any]] | None = None


def _ok(model: type[BaseModel], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"model": model}}}


@router.post(
    "/segments/<segment_id>/evaluate",
    summary="Re-evaluate a dynamic segment now (and the segments that depend on it)",
    tags=TAGS,
    responses={202: _ok(EvaluateAccepted, "queued")},
)
def evaluate(segment_id: str) -> tuple[dict[str, Any], int]:
    return {"run_id": request_evaluation(tenant_id(router), segment_id)}, 202


@router.post(
    "/segments/preview",
    summary="Count and sample the contacts unsaved rules select, over the newest snapshot",
    tags=TAGS,
    responses={200: _ok(PreviewAnswer)},
)
def preview(request: Annotated[PreviewRequest, Body()]) -> dict[str, Any]:
    tenant = tenant_id(router)
    check_definition(tenant, segment_type="dynamic", rules=request.rules, category=None)
    from audience.evaluation.preview import preview as run_preview

    return run_preview(tenant, request.rules, sample_size=request.sample_size)


@router.post(
    "/segments/bulk",
    summary="One dynamic segment per distinct value of a field (dry_run only counts them)",
    tags=TAGS,
    responses={200: _ok(BulkAnswer, "dry run"), 201: _ok(BulkAnswer, "created")},
)
def bulk(
    request: Annotated[BulkRequest, Body()],
    dry_run: Annotated[bool, Query(description="only count the segments that would be created")] = False,
) -> tuple[dict[str, Any], int]:
    from audience.evaluation.bulk_segments import bulk_segments

    if request.field == "contact_id":
        raise ValidationFailed("one segment per contact is not a segment", [{"path": "/field", "message":
                                                                             "contact_id cannot be bulk-split"}])
    answer = bulk_segments(tenant_id(router), field=request.field, name_prefix=request.name_prefix,
                           rules=request.rules, category=request.category, dry_run=dry_run)
    if "segments" in answer:
        answer["segments"] = [present(segment) for segment in answer["segments"]]
    return answer, 200 if dry_run else 201
