"""Signed next_token values: round trip, and every forgery is a BadRequest."""

from __future__ import annotations

import base64
import json

import pytest
from audience.errors import BadRequest

from functions.api import pagination

KEY = {"pk": "T#acme", "sk": "SEG#0042"}


def test_a_token_round_trips_for_the_same_tenant_and_listing():
    token = pagination.encode("acme", "segments", KEY)
    assert pagination.decode("acme", "segments", token) == KEY


def test_no_key_means_no_token_and_no_token_means_no_key():
    assert pagination.encode("acme", "segments", None) is None
    assert pagination.decode("acme", "segments", None) is None
    assert pagination.decode("acme", "segments", "") is None


def test_the_token_does_not_work_for_another_tenant_or_listing():
    token = pagination.encode("acme", "segments", KEY)
    with pytest.raises(BadRequest) as raised:
        pagination.decode("globex", "segments", token)
    assert raised.value.details[0]["path"] == "?next_token"
    with pytest.raises(BadRequest):
        pagination.decode("acme", "campaigns", token)


def test_an_altered_payload_is_rejected():
    version, payload, mac = pagination.encode("acme", "segments", KEY).split(".")
    forged_key = {"pk": "T#globex", "sk": "SEG#0001"}
    forged = base64.urlsafe_b64encode(json.dumps(forged_key).encode()).decode().rstrip("=")
    with pytest.raises(BadRequest):
        pagination.decode("acme", "segments", f"{version}.{forged}.{mac}")


@pytest.mark.parametrize(
    "token", ["garbage", "v1..", "v1.abc.def", "v2.a.b", "v1.%%%.***", "x" * 5000, "v1.a.b.c"]
)
def test_garbage_tokens_are_rejected(token):
    with pytest.raises(BadRequest):
        pagination.decode("acme", "segments", token)


def test_the_secret_comes_from_the_environment_when_set(monkeypatch):
    token = pagination.encode("acme", "segments", KEY)
    monkeypatch.setenv("PAGINATION_SECRET", "a-deployment-secret")
    with pytest.raises(BadRequest):
        pagination.decode("acme", "segments", token)
    fresh = pagination.encode("acme", "segments", KEY)
    assert pagination.decode("acme", "segments", fresh) == KEY
