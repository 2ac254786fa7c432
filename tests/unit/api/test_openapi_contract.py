"""shared/openapi.json is the generated contract: it must match the code."""

from __future__ import annotations

import json
from pathlib import Path

from functions.api import openapi_dump

SHARED = Path(__file__).resolve().parents[3] / "shared" / "openapi.json"


def test_shared_openapi_json_is_up_to_date():
    assert SHARED.read_text(encoding="utf-8") == openapi_dump.render(), (
        "shared/openapi.json is stale: run `python -m functions.api.openapi_dump shared/openapi.json`"
    )


def test_the_document_declares_the_api_key_and_every_resource():
    document = json.loads(SHARED.read_text(encoding="utf-8"))
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
    }
    paths = set(document["paths"])
    for path in (
        "/segments",
        "/segments/{segment_id}",
        "/contacts/{contact_id}",
        "/contacts/{contact_id}/segments",
        "/fields",
        "/categories",
        "/categories/{name}",
        "/campaigns",
        "/campaigns/{campaign_id}",
        "/settings/suppression",
    ):
        assert path in paths, path
    assert "/openapi.json" not in paths and "/docs" not in paths
