"""The OpenAPI document as served (``GET /openapi.json``) and written to ``shared/openapi.json``:
Powertools' generated document, finished in this one place with what Powertools cannot say.

- Every error an operation can answer, in SPEC's one shape (``Error``): 400, 401, 403, 404, 414 and
  422 everywhere; 413 and 415 where there is a body; 409 and 412 on writes. Powertools' own 422 shape
  (``HTTPValidationError``) is never sent, so it is replaced.
- A 204 has no body, so it documents no content.
- OpenAPI ``links`` from each operation that creates something to every operation that takes its
  id in the path (``LINKS``), so a client - and schemathesis' stateful phase - can follow
  create -> read -> change -> delete. A link is added for each operation whose path starts with
  the target prefix, so routes added later are linked without touching this table. A link to
  PUT /segments/{segment_id} also carries the segment's ``type`` and ``rules`` into the body
  (``LINK_BODIES``): the type never changes and the rules must fit it.
- The rule language's JSON Schema (``shared/schemas/rule.schema.json``, recursive, ``if``/``then``
  per operator) as components: ``Rule`` and ``Rule<Form>`` for each of its ``$defs``, so every body
  that carries a rule (``RuleJson``) says exactly what ``parse_rule`` takes, short of the tenant's
  names, which carry the custom formats of ``audience.json_types.TENANT_NAME_FORMATS``.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from audience.json_types import RULE_PLACEHOLDER
from audience.rules.schema import rule_json_schema

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["path", "message"],
                        "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        }
    },
}

ERRORS = {
    "400": "malformed_json (a body that is not UTF-8 JSON) or bad_request (next_token, If-Match)",
    "401": "unauthorized: no or unknown API key",
    "403": "forbidden: the key's scopes do not allow this method",
    "404": "not_found: no such item for this tenant",
    "409": "conflict: duplicate, still in use, or a final state",
    "412": "precondition_failed: If-Match names an older version",
    "413": "too_large: body over 1 MiB",
    "414": "uri_too_long: a URL over 8,192 characters, refused by API Gateway before the function",
    "415": "unsupported_media_type: a body that is not application/json",
    "422": "validation_failed: details name every bad field by its path",
}
ALWAYS = ("400", "401", "403", "404", "414", "422")
WITH_BODY = ("413", "415")
ON_WRITES = ("409", "412")


# (method, path of the creating operation, runtime expression of the new id, target path prefixes)
LINKS: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("post", "/segments", "$response.body#/id", ("/segments/{",)),
    ("post", "/segments/{segment_id}/clone", "$response.body#/id", ("/segments/{",)),
    ("post", "/segments/{segment_id}/save-as-list", "$response.body#/id", ("/segments/{",)),
    ("post", "/campaigns", "$response.body#/id", ("/campaigns/{",)),
    ("post", "/categories", "$response.body#/name", ("/categories/{",)),
    ("post", "/fields", "$response.body#/name", ("/fields/{",)),
    ("put", "/contacts/{contact_id}", "$request.path.contact_id", ("/contacts/{",)),
    ("post", "/imports", "$response.body#/job_id", ("/imports/{",)),
    ("post", "/segments/{segment_id}/exports", "$response.body#/job_id", ("/exports/{", "/jobs/{")),
    ("post", "/segments/{segment_id}/mass-update", "$response.body#/job_id", ("/jobs/{",)),
    ("post", "/segments/{segment_id}/reset-score", "$response.body#/job_id", ("/jobs/{",)),
    ("post", "/events", "$response.body#/batch_id", ("/events/batches/{",)),
]

# Request body fields a link carries from the created resource into a target, by target (method,
# path): PUT replaces a segment's definition but never its type, and the rules must fit that type,
# so a client (and schemathesis' stateful phase, which merges these into the body it draws) takes
# both from the segment it just created.
LINK_BODIES: dict[tuple[str, str], dict[str, str]] = {
    ("put", "/segments/{segment_id}"): {"type": "$response.body#/type", "rules": "$response.body#/rules"},
}

_PARAMETER = re.compile(r"\{([^}/]+)\}")


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of Powertools' ``document`` with errors, empty 204s, links and rules as described above."""
    document = copy.deepcopy(document)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    schemas.update(rule_components())
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for _path, method, operation in _operations(document):
        _document_errors(method, operation)
    _add_links(document)
    return _rule_references(document)


RULE = "Rule"
RULE_SCHEMA_REF = f"#/components/schemas/{RULE}"


def rule_components() -> dict[str, Any]:
    """The rule JSON Schema as OpenAPI components: its root as ``Rule``, each ``$defs`` entry X as
    ``RuleX``, references rewritten to match (recursion stays a ``$ref``, as OpenAPI 3.1 allows)."""
    schema = rule_json_schema()

    def moved(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: f"{RULE_SCHEMA_REF}{value.removeprefix('#/$defs/')}" if key == "$ref" else moved(value)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [moved(item) for item in node]
        return node

    components = {f"{RULE}{name}": moved(definition) for name, definition in schema["$defs"].items()}
    components[RULE] = moved({key: schema[key] for key in ("title", "description", "anyOf")})
    return components


def _rule_references(node: Any) -> Any:
    """``node`` with every ``RuleJson`` placeholder replaced by the reference to ``Rule``."""
    if isinstance(node, dict):
        if RULE_PLACEHOLDER in node:
            return {**{key: value for key, value in node.items() if key != RULE_PLACEHOLDER}, "$ref": RULE_SCHEMA_REF}
        return {key: _rule_references(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_rule_references(item) for item in node]
    return node


def _operations(document: dict[str, Any]):
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield path, method, operation


def _document_errors(method: str, operation: dict[str, Any]) -> None:
    responses = operation["responses"]
    if "204" in responses:
        responses["204"].pop("content", None)
    statuses = list(ALWAYS)
    if "requestBody" in operation:
        statuses += WITH_BODY
    if method != "get":
        statuses += ON_WRITES
    for status in sorted(statuses):
        responses[status] = {
            "description": ERRORS[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }


def _add_links(document: dict[str, Any]) -> None:
    paths = document.get("paths", {})
    for method, source_path, expression, prefixes in LINKS:
        source = paths.get(source_path, {}).get(method)
        if source is None:
            continue
        created = [status for status in source["responses"] if status.startswith("2")]
        links: dict[str, Any] = {}
        for status in created:
            source["responses"][status]["links"] = links
        for target_path, target_method, target in _operations(document):
            if target is source or not target_path.startswith(prefixes):
                continue
            parameter = _PARAMETER.search(target_path)
            if parameter is None:
                continue
            link = {
                "operationId": target["operationId"],
                "parameters": {f"path.{parameter.group(1)}": expression},
                "description": f"{target_method.upper()} {target_path} with the {parameter.group(1)} just created",
            }
            body = LINK_BODIES.get((target_method, target_path))
            if body is not None and expression.startswith("$response.body#"):
                link["requestBody"] = body
                link["description"] += ", and its " + " and ".join(body)
            links[target["operationId"]] = link
