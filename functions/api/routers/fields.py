"""GET/POST /fields: the tenant's field catalog (built-in fields plus declared custom fields)."""

from __future__ import annotations

from typing import Annotated, Any

from audience.fields import BUILTIN_FIELDS, CUSTOM_FIELD_NAME, SYSTEM_FIELDS, FieldType
from audience.storage import fields_repo
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict, Field

from functions.api.routers.request_context import tenant_id

router = Router()


class FieldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=CUSTOM_FIELD_NAME.pattern,
        description="lower-case letters, digits and _, starting with a letter; not a built-in name",
        json_schema_extra={"not": {"enum": sorted(BUILTIN_FIELDS)}},
        examples=["loyalty_tier"],
    )
    type: FieldType
    label: str | None = Field(default=None, max_length=200)


class FieldOut(BaseModel):
    name: str
    type: FieldType
    builtin: bool
    read_only: bool = False
    label: str | None = None
    created_at: str | None = None


class FieldList(BaseModel):
    items: list[FieldOut]


@router.get("/fields", summary="The field catalog: built-in and custom fields", tags=["fields"])
def list_fields() -> FieldList:
    tenant = tenant_id(router)
    builtin = [
        FieldOut(name=name, type=kind, builtin=True, read_only=name in SYSTEM_FIELDS)
        for name, kind in BUILTIN_FIELDS.items()
    ]
    custom = [
        FieldOut(name=f.name, type=FieldType(f.type), builtin=False, label=f.label, created_at=f.created_at)
        for f in sorted(fields_repo.list_custom(tenant), key=lambda f: f.name)
    ]
    return FieldList(items=builtin + custom)


@router.post("/fields", summary="Declare a custom field", tags=["fields"], status_code=201)
def create_field(field: Annotated[FieldIn, Body()]) -> tuple[dict[str, Any], int]:
    tenant = tenant_id(router)
    created = fields_repo.create(tenant, field.name, field.type.value, field.label)
    out = FieldOut(
        name=created.name,
        type=FieldType(created.type),
        builtin=False,
        label=created.label,
        created_at=created.created_at,
    )
    return out.model_dump(), 201
