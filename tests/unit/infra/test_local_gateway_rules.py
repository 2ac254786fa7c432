"""Local stack rules that must match AWS: schedule expressions, API routes and authorizer policies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infra.local_api import ApiGateway, _policy_allows
from infra.local_functions import local_functions
from infra.local_triggers import next_fire_time
from infra.template_resources import load_template, plan_resources

NOON = datetime(2026, 11, 18, 12, 0, 30, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(5 minutes)", datetime(2026, 11, 18, 12, 5, 30, tzinfo=UTC)),
        ("rate(1 hour)", datetime(2026, 11, 18, 13, 0, 30, tzinfo=UTC)),
        ("cron(0 * * * ? *)", datetime(2026, 11, 18, 13, 0, tzinfo=UTC)),
        ("cron(15 6 ? * 2 *)", datetime(2026, 11, 23, 6, 15, tzinfo=UTC)),  # AWS weekday 2 = Monday
        ("cron(0 8 ? * MON-FRI *)", datetime(2026, 11, 19, 8, 0, tzinfo=UTC)),
        ("cron(0 0 1 1 ? 2028)", datetime(2028, 1, 1, 0, 0, tzinfo=UTC)),
    ],
)
def test_schedule_expressions_fire_when_eventbridge_would(expression, expected):
    assert next_fire_time(expression, NOON) == expected


@pytest.mark.parametrize("expression", ["cron(0 * * * ?)", "every hour", "rate(5 weeks)"])
def test_malformed_schedule_expressions_are_refused(expression):
    with pytest.raises(ValueError):
        next_fire_time(expression, NOON)


@pytest.fixture(scope="module")
def gateway():
    resources = plan_resources(load_template())
    return ApiGateway(resources, local_functions(resources))


@pytest.mark.parametrize(
    ("method", "path", "template_path", "authorized"),
    [
        ("GET", "/docs", "/docs", False),
        ("GET", "/openapi.json", "/openapi.json", False),
        ("POST", "/docs", "/{proxy+}", True),
        ("GET", "/segments/abc/members", "/{proxy+}", True),
        ("DELETE", "/", "/", True),
        ("OPTIONS", "/segments/abc", "/{proxy+}", False),  # CORS preflight: its own method beats ANY
    ],
)
def test_routes_follow_the_templates_api_events(gateway, method, path, template_path, authorized):
    route, function, params = gateway._route(path, method)
    assert (route.path, route.authorized, function.name) == (template_path, authorized, "ApiFunction")
    if template_path == "/{proxy+}":
        assert params == {"proxy": path.lstrip("/")}


ARN = "arn:aws:execute-api:us-east-1:123456789012:local/v1/POST/segments"


def _statement(effect: str, resource: str) -> dict:
    return {"Action": "execute-api:Invoke", "Effect": effect, "Resource": [resource]}


@pytest.mark.parametrize(
    ("statements", "allowed"),
    [
        ([_statement("Allow", "arn:aws:execute-api:us-east-1:123456789012:local/v1/*/*")], True),
        ([_statement("Allow", "arn:aws:execute-api:us-east-1:123456789012:local/v1/GET/*")], False),
        (
            [
                _statement("Allow", "arn:aws:execute-api:us-east-1:123456789012:local/v1/*/*"),
                _statement("Deny", "arn:aws:execute-api:us-east-1:123456789012:local/v1/POST/*"),
            ],
            False,
        ),
        ([], False),
    ],
)
def test_authorizer_policy_is_evaluated_like_iam(statements, allowed):
    assert _policy_allows({"Version": "2012-10-17", "Statement": statements}, ARN) is allowed


def test_gateway_answers_401_and_403_with_the_templates_responses(gateway):
    status, _, body = gateway._gateway_error("UNAUTHORIZED", 401, "Unauthorized")
    assert (status, b'"unauthorized"' in body) == (401, True)
    status, _, body = gateway._gateway_error("ACCESS_DENIED", 403, "denied")
    assert (status, b'"forbidden"' in body) == (403, True)
