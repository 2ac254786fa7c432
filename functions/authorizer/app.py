"""REQUEST authorizer: ``X-Api-Key`` (any header case) -> tenant and scopes, as an IAM policy.

- no key, malformed or unknown key: ``Exception("Unauthorized")``, which API Gateway answers with 401;
- ``read`` key on anything but GET: an explicit Deny for the request's method, which API Gateway
  answers with 403 (the GET routes stay allowed);
- otherwise Allow, with context ``{"tenant_id", "scopes"}`` (scopes comma-separated: API Gateway
  context values must be scalars). The api function reads the tenant only from this context.

Kept small on purpose (no pyarrow, no resolver): it runs before every request.
"""

from __future__ import annotations

from typing import Any

from audience.tenants import authorize
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
    HttpVerb,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()

API_KEY_HEADER = "x-api-key"


class Unauthorized(Exception):
    """API Gateway maps an authorizer failing with exactly this message to 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def api_key_of(event: APIGatewayAuthorizerRequestEvent) -> str | None:
    headers = event.get("headers") or {}
    for name, value in headers.items():
        if name.lower() == API_KEY_HEADER and value:
            return value
    return None


def policy_for(event: APIGatewayAuthorizerRequestEvent) -> dict[str, Any]:
    method = (event.http_method or "").upper()
    decision = authorize(api_key_of(event), method)
    if decision is None:
        raise Unauthorized()
    response = APIGatewayAuthorizerResponse.from_route_arn(
        event.method_arn,
        principal_id=decision.tenant_id,
        context={"tenant_id": decision.tenant_id, "scopes": ",".join(decision.scopes)},
    )
    if decision.allowed and "write" in decision.scopes:
        response.allow_all_routes()
    else:
        response.allow_all_routes(HttpVerb.GET.value)
        if not decision.allowed:
            verb = method if method in HttpVerb.__members__ else HttpVerb.ALL.value
            response.deny_all_routes(verb)
    logger.info("authorized", extra={"tenant_id": decision.tenant_id, "allowed": decision.allowed})
    return response.asdict()


@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=APIGatewayAuthorizerRequestEvent)
def lambda_handler(event: APIGatewayAuthorizerRequestEvent, context: LambdaContext) -> dict[str, Any]:
    return policy_for(event)
