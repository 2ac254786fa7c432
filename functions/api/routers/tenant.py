"""GET /tenant: who the API key belongs to (the console shows the tenant's name after sign-in)."""

from __future__ import annotations

from audience.errors import NotFound
from audience.storage import tenants_repo
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel

from functions.api.routers.request_context import scopes_of, tenant_id

router = Router()


class TenantOut(BaseModel):
    tenant_id: str
    name: str
    scopes: list[str]
    created_at: str


@router.get("/tenant", summary="The caller's tenant: id, display name and the key's scopes", tags=["tenant"])
def current_tenant() -> TenantOut:
    tenant = tenants_repo.get_tenant(tenant_id(router))
    if tenant is None:
        raise NotFound("tenant not found")
    return TenantOut(
        tenant_id=tenant.tenant_id,
        name=tenant.name,
        scopes=sorted(scopes_of(router.current_event)),
        created_at=tenant.created_at,
    )
