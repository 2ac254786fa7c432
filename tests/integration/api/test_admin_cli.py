"""``python -m infra.admin``: tenants and keys created from a shell work through the authorizer."""

from __future__ import annotations

import json

import pytest

from infra import admin


def printed(capsys) -> dict:
    """The command's JSON answer: its last line (handlers invoked before may have logged)."""
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def aws(shared_aws):
    """One moto world for the module: every test works in its own fresh tenants."""
    return shared_aws


def test_create_tenant_prints_a_working_key(api_call, aws, capsys, monkeypatch):
    monkeypatch.setenv("MAIN_TABLE", aws.name("MainTable"))
    assert admin.main(["create-tenant", "--name", "Initech", "--default-region", "US"]) == 0
    created = printed(capsys)
    assert created["tenant_id"].startswith("initech-")
    assert created["api_key"].startswith(f"sk_{created['tenant_id']}_")
    assert api_call("GET", "/fields", api_key=created["api_key"]).status == 200
    # the tenant's region reads phone numbers without a country code
    answer = api_call("PUT", "/contacts/p1", api_key=created["api_key"], body={"phone": "(415) 555-2671"})
    assert answer.json["phone"] == "+14155552671"


def test_create_key_with_read_scope_then_revoke(api_call, aws, capsys, monkeypatch):
    monkeypatch.setenv("MAIN_TABLE", aws.name("MainTable"))
    admin.main(["create-tenant", "--name", "Hooli", "--tenant-id", "hooli"])
    capsys.readouterr()
    assert admin.main(["create-key", "--tenant", "hooli", "--scopes", "read", "--key-name", "bi"]) == 0
    key = printed(capsys)
    assert key["scopes"] == ["read"]
    assert api_call("GET", "/categories", api_key=key["api_key"]).status == 200
    assert api_call("POST", "/categories", api_key=key["api_key"], body={"name": "x"}).status == 403
    assert admin.main(["revoke-key", "--tenant", "hooli", "--key", key["api_key"]]) == 0
    assert printed(capsys)["revoked"] is True
    assert api_call("GET", "/categories", api_key=key["api_key"]).status == 401


def test_mistakes_are_reported_not_raised(aws, capsys, monkeypatch):
    monkeypatch.setenv("MAIN_TABLE", aws.name("MainTable"))
    assert admin.main(["create-key", "--tenant", "no-such-tenant"]) == 2
    assert "no such tenant" in capsys.readouterr().err
    admin.main(["create-tenant", "--name", "Dup", "--tenant-id", "dup-co"])
    assert admin.main(["create-tenant", "--name", "Dup", "--tenant-id", "dup-co"]) == 2
    assert admin.main(["create-tenant", "--name", "Bad", "--tenant-id", "Bad Id"]) == 2
    assert admin.main(["create-key", "--tenant", "dup-co", "--scopes", "admin"]) == 2


def test_the_local_stack_table_name_is_found_from_the_template(aws, monkeypatch):
    monkeypatch.delenv("MAIN_TABLE", raising=False)
    args = admin.parser().parse_args(
        ["create-key", "--tenant", "t", "--endpoint-url", "http://127.0.0.1:5000"]
    )
    assert admin._main_table(args) == aws.name("MainTable")
    args = admin.parser().parse_args(["create-key", "--tenant", "t", "--main-table", "explicit"])
    assert admin._main_table(args) == "explicit"
