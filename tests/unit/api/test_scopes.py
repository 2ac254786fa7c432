"""Scopes: read may only GET; write may do anything."""

from __future__ import annotations

import pytest
from audience.errors import ValidationFailed
from audience.tenants import _slug, may_call, normalise_scopes


@pytest.mark.parametrize(
    ("scopes", "method", "allowed"),
    [
        (("read",), "GET", True),
        (("read",), "get", True),
        (("read",), "POST", False),
        (("read",), "DELETE", False),
        (("read",), "HEAD", False),
        (("write",), "DELETE", True),
        (("read", "write"), "PATCH", True),
        ((), "GET", False),
    ],
)
def test_methods_allowed_by_scope(scopes, method, allowed):
    assert may_call(scopes, method) is allowed


def test_scopes_are_normalised_and_checked():
    assert normalise_scopes("write, READ") == ("read", "write")
    assert normalise_scopes(["read"]) == ("read",)
    with pytest.raises(ValidationFailed):
        normalise_scopes("admin")
    with pytest.raises(ValidationFailed):
        normalise_scopes("")


def test_tenant_id_prefix_is_a_readable_slug():
    assert _slug("Acme GmbH & Co.") == "acme-gmbh-co"
    assert _slug("Ünïcödé") == "unicode"
    assert _slug("日本") == "tenant"
