"""Property-based fuzz of the whole API from its own OpenAPI document: whatever a caller sends -
schema-shaped bodies, wrong types, junk JSON, malformed text, odd unicode, random ids and query
strings, forged tokens, odd If-Match headers - the answer is never a 5xx and always SPEC's error shape when it fails.

(An equivalent of a schemathesis run, built on hypothesis so it needs nothing beyond the pinned
dev dependencies and stays within a few seconds per route.)
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES_PER_OPERATION = 12
ODD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\u0000",
        "null",
        "😀",
        "\u202e",
        "a" * 3000,
        "../../etc",
        "%00",
        "<script>",
        "1e309",
        "-1",
        "ǅ",
    ]
)
TEXT = st.one_of(st.text(max_size=40), ODD_TEXT)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT)
ANY_JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def aws(shared_aws):
    """One moto world for the module: the fuzz tenant's data persists between examples."""
    return shared_aws


def schema_strategy(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> st.SearchStrategy:
    """Values that mostly follow ``schema`` (JSON Schema from the OpenAPI document)."""
    if depth > 5:
        return SCALARS
    if "$ref" in schema:
        return schema_strategy(components[schema["$ref"].rsplit("/", 1)[-1]], components, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return st.one_of([schema_strategy(s, components, depth + 1) for s in schema[key]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        fixed = {
            name: schema_strategy(sub, components, depth + 1) for name, sub in properties.items() if name in required
        }
        optional = {
            name: schema_strategy(sub, components, depth + 1)
            for name, sub in properties.items()
            if name not in required
        }
        return st.fixed_dictionaries(fixed, optional=optional)
    if kind == "array":
        items = schema_strategy(schema.get("items", {}), components, depth + 1)
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 5), 5))
    if kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength", 60)
        if "format" in schema and "date" in schema["format"]:
            return st.one_of(st.datetimes().map(lambda d: d.isoformat() + "Z"), st.dates().map(str), TEXT)
        return st.one_of(st.text(min_size=low, max_size=min(high, 60)), TEXT)
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return ANY_JSON


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in sorted(document["paths"].items())
        for method, operation in sorted(item.items())
        if method in {"get", "post", "put", "patch", "delete"}
    ]


@pytest.fixture(scope="module")
def document(shared_aws):
    from functions.api.app import lambda_handler
    from tests.integration.api.conftest import FakeLambdaContext, build_event

    event = build_event("GET", "/openapi.json", body=None, headers={}, query=None, authorizer=None)
    return json.loads(lambda_handler(event, FakeLambdaContext())["body"])


@pytest.fixture(scope="module")
def known_ids(shared_aws):
    """A tenant with real items, so generated requests also reach code past the 404s."""
    from audience.storage import campaigns_repo, contacts_repo, memberships_repo, segments_repo
    from audience.tenants import create_tenant

    tenant, _ = create_tenant("Fuzz")
    static = segments_repo.create(tenant, name="Static", type="static", public=True)
    contacts_repo.upsert(tenant, "c1", {"email": "c1@fuzz.io", "age": 30})
    memberships_repo.add_many(tenant, static.id, ["c1"])
    campaign = campaigns_repo.create(tenant, name="Camp", segment_ids=[static.id])
    return tenant, [static.id, "c1", campaign.id, "nope", "c1"]


def test_the_document_describes_every_route(document):
    ops = operations(document)
    assert len(ops) >= 30
    assert (
        "POST",
        "/segments",
    ) in {(m, p) for m, p, _ in ops}
    assert all("responses" in op for _, _, op in ops)


def test_no_request_makes_the_api_fail_with_a_5xx(api_call, document, known_ids):
    tenant, ids = known_ids
    components = document.get("components", {}).get("schemas", {})
    failures: list[str] = []
    statuses: list[int] = []

    def send(method: str, path: str, path_values: dict, query: dict, raw_body: str | None, headers: dict) -> None:
        concrete = path
        for name, value in path_values.items():
            concrete = concrete.replace("{" + name + "}", value)
        answer = api_call(method, concrete, tenant=tenant, query=query or None, raw_body=raw_body, headers=headers)
        statuses.append(answer.status)
        if answer.status >= 500:
            failures.append(f"{method} {concrete} query={query!r} body={raw_body!r:.200} -> {answer.text:.300}")
        elif answer.status >= 400:
            answer.error  # noqa: B018 - asserts SPEC's error shape

    for method, path, operation in operations(document):
        body_schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        parameters = [p for p in operation.get("parameters", []) if p.get("in") in ("path", "query")]
        id_text = st.one_of(
            st.sampled_from(ids), st.text(st.characters(blacklist_characters="/?#"), min_size=1, max_size=30)
        )
        query_values = {
            p["name"]: st.one_of(schema_strategy(p.get("schema", {}), components).map(_as_query), TEXT)
            for p in parameters
            if p["in"] == "query"
        }
        bodies = [st.none(), ANY_JSON.map(json.dumps), TEXT]
        if body_schema:
            bodies.insert(0, schema_strategy(body_schema, components).map(json.dumps))

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            operation=st.just((method, path)),
            path_values=st.fixed_dictionaries({name: id_text for name in re.findall(r"{(\w+)}", path)}),
            query=st.fixed_dictionaries({}, optional=query_values),
            raw_body=st.one_of(bodies),
            headers=st.fixed_dictionaries({}, optional={"If-Match": st.one_of(TEXT, st.integers().map(str))}),
        )
        def probe(operation, path_values, query, raw_body, headers):
            send(*operation, path_values, query, raw_body, headers)

        probe()
    assert failures == []
    assert len(statuses) >= len(operations(document)) * EXAMPLES_PER_OPERATION // 2
    assert any(200 <= status < 300 for status in statuses), "the fuzz never got past validation"


def _as_query(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)
