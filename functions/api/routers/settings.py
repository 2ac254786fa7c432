"""GET/PUT /settings/suppression: the tenant's suppression rules (SPEC §1).

Document (the shape ``audience.suppression`` applies)::

    {"rules": <a rule of the rule language, or null>,
     "received_at_least_never_clicked": {"enabled": true, "min_received": 5}}

A contact matched by ``rules``, or (when enabled) one that received at least ``min_received``
messages and never clicked, is left out of every dynamic segment and every export unless the
segment opts out. ``version`` and ``If-Match`` work as on segments.
"""

from __future__ import annotations

from typing import Annotated, Any

from audience.errors import ValidationFailed
from audience.event_retention import check_windows
from audience.json_types import RuleJson, json_int
from audience.storage import fields_repo, segments_repo, suppression_repo
from audience.storage.records import SuppressionSettings
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from functions.api.routers.request_context import if_match, tenant_id

router = Router()


class GlobalSuppression(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool = False
    min_received: json_int(ge=1, le=1_000_000) = 1


class SuppressionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: RuleJson | None = Field(default=None, description="a rule; matching contacts are suppressed")
    received_at_least_never_clicked: GlobalSuppression = Field(default_factory=GlobalSuppression)


class SuppressionOut(SuppressionIn):
    version: int
    updated_at: str | None = None


def _out(settings: SuppressionSettings) -> SuppressionOut:
    document = settings.document or {}
    return SuppressionOut(
        rules=document.get("rules") or None,
        received_at_least_never_clicked=GlobalSuppression(
            **(document.get("received_at_least_never_clicked") or {})
        ),
        version=settings.version,
        updated_at=settings.updated_at,
    )


def check_rules(tenant: str, rules: dict[str, Any]) -> None:
    """The rule engine's verdict, every problem with its JSON path under ``/rules``."""
    from audience.rules import RuleValidationError, parse_rule  # only PUT needs the engine

    try:
        parse_rule(
            rules,
            fields_repo.catalog(tenant),
            pointer="/rules",
            segment_exists=lambda segment_id: segments_repo.find(tenant, segment_id) is not None,
        )
    except RuleValidationError as exc:
        raise ValidationFailed(
            "the suppression rules are invalid",
            [{"path": e["path"], "message": e["message"]} for e in exc.errors],
        ) from exc
    too_far = check_windows(tenant, rules, "/rules")
    if too_far:
        raise ValidationFailed("the suppression rules look back further than events are kept", too_far)


@router.get("/settings/suppression", summary="The tenant's suppression settings", tags=["settings"])
def get_suppression() -> SuppressionOut:
    return _out(suppression_repo.get(tenant_id(router)))


@router.put(
    "/settings/suppression",
    summary="Replace the suppression settings (If-Match: <version> makes it conditional)",
    tags=["settings"],
)
def put_suppression(settings: Annotated[SuppressionIn, Body()]) -> SuppressionOut:
    tenant = tenant_id(router)
    expected = if_match(router)
    if settings.rules is not None:
        check_rules(tenant, settings.rules)
    document = settings.model_dump(mode="json")
    return _out(suppression_repo.put(tenant, document, expected_version=expected))
