"""The local front door hands request bodies over as API Gateway does for the template's API."""

from __future__ import annotations

import base64

import pytest

from infra.local_api import ApiGateway
from infra.local_functions import local_functions
from infra.template_resources import load_template, plan_resources


@pytest.fixture(scope="module")
def gateway():
    resources = plan_resources(load_template())
    return ApiGateway(resources, local_functions(resources))


def test_the_template_makes_every_body_binary(gateway):
    assert gateway.binary_media_types == ["*/*"]


@pytest.mark.parametrize("content_type", ["application/json", "", "text/plain; charset=latin-1", "image/png"])
def test_bodies_arrive_base64_byte_for_byte(gateway, content_type):
    raw = b'{"name": "caf\xe9"}\xff\x00'
    body, is_base64 = gateway.integration_body(raw, content_type)
    assert is_base64 is True and base64.b64decode(body) == raw


def test_no_body_is_null(gateway):
    assert gateway.integration_body(b"", "application/json") == (None, False)


def test_without_binary_media_types_bodies_are_text_with_replacement(gateway, monkeypatch):
    monkeypatch.setattr(gateway, "binary_media_types", ["image/*"])
    assert gateway.integration_body(b'{"a": "\xff"}', "application/json") == ('{"a": "\ufffd"}', False)
    assert gateway.integration_body(b"\x89PNG", "image/png") == (base64.b64encode(b"\x89PNG").decode(), True)
