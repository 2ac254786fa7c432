"""On the local stack a batch write's requests go out as DynamoDB's wire request (``infra.local_wire``),
not through botocore's per-call pipeline: the same items stored, signed as botocore signs, errors
raised and retried as the client raised and retried them. Without it (on AWS) they go through the
client's call."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from audience.storage import batch, membership_history_repo, memberships_repo
from audience.storage.membership_history_repo import Cause
from audience.storage.models import MembershipItem
from botocore.awsrequest import AWSResponse
from botocore.client import BaseClient
from botocore.exceptions import EndpointConnectionError
from pynamodb.exceptions import PutError

from infra import local_wire as wire


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_):
        yield self.body


def _answer(request, status: int, payload: dict) -> AWSResponse:
    return AWSResponse(request.url, status, {}, _Raw(json.dumps(payload).encode()))


@pytest.fixture
def installed():
    wire.install()
    yield
    wire.uninstall()


@pytest.fixture
def calls(monkeypatch):
    """Operations sent through botocore's client call (``BaseClient._make_api_call``)."""
    seen: list[str] = []
    make_api_call = BaseClient._make_api_call

    def counted(self, operation, params):
        seen.append(operation)
        return make_api_call(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counted)
    return seen


def test_a_runs_memberships_and_entries_are_written_without_the_clients_call(aws, installed, calls):
    """A first run's 300 memberships and their `joined` entries (24 requests): no BatchWriteItem goes
    through botocore's client call, and what the API reads back is what was written."""
    ids = [f"c{n:04d}" for n in range(300)]
    cause = Cause("run", run_id="r1", rules_version=2, at="2026-12-07T13:00:00.000Z")
    assert memberships_repo.add_many("acme", "s1", ids, source="dynamic", history=cause) == 300
    assert "BatchWriteItem" not in calls
    assert sorted(memberships_repo.iter_members("acme", "s1")) == ids
    page = membership_history_repo.for_contact("acme", "c0007")
    assert page.items == [
        {
            "segment_id": "s1",
            "contact_id": "c0007",
            "change": "joined",
            "at": "2026-12-07T13:00:00.000Z",
            "source": "run",
            "run_id": "r1",
            "rules_version": 2,
        }
    ]
    assert memberships_repo.remove_many("acme", "s1", ids[:30], history=cause) == 30
    assert "BatchWriteItem" not in calls
    assert memberships_repo.count("acme", "s1") == 270


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def test_the_wire_request_is_the_one_botocore_sends(aws, monkeypatch):
    """Body, target, content type and the SigV4 scope and signed headers equal botocore's own
    request for the same items; the signature is botocore's signer's for that request."""
    import botocore.auth
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    connection = MembershipItem._get_connection()  # noqa: SLF001
    client = connection.connection.client
    seen = []
    keep = lambda request, **_: seen.append(request)  # noqa: E731 - the prepared requests sent
    client.meta.events.register_first("before-send.dynamodb.BatchWriteItem", keep)
    table = MembershipItem.Meta.table_name
    requests = [
        {"PutRequest": {"Item": {"pk": {"S": "acme#s1"}, "sk": {"S": f"c{n}"}, "n": {"N": str(n)}}}} for n in range(3)
    ]
    try:
        client.batch_write_item(RequestItems={table: requests})
        sender = wire.WireSender.of(client)
        assert sender is not None
        sender.send(sender.body(table, requests))
    finally:
        client.meta.events.unregister("before-send.dynamodb.BatchWriteItem", keep)
    theirs, ours = seen
    assert ours.url == theirs.url and ours.method == theirs.method == "POST"
    assert json.loads(ours.body) == json.loads(theirs.body)
    for name in ("X-Amz-Target", "Content-Type"):
        assert _text(ours.headers[name]) == _text(theirs.headers[name])
    scope = lambda request: _text(request.headers["Authorization"]).split("Signature=")[0].split(", SignedHeaders=")  # noqa: E731
    assert scope(ours)[0] == scope(theirs)[0]  # algorithm, key id, date/region/service scope
    assert {"host", "x-amz-date", "x-amz-target", "content-type"} <= set(scope(ours)[1].rstrip(", ").split(";"))
    stamp = datetime.strptime(_text(ours.headers["X-Amz-Date"]), "%Y%m%dT%H%M%SZ")
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: stamp)  # sign at the same moment
    again = AWSRequest(
        method="POST",
        url=ours.url,
        data=ours.body,
        headers={"X-Amz-Target": "DynamoDB_20120810.BatchWriteItem", "Content-Type": "application/x-amz-json-1.0"},
    )
    credentials = client._request_signer._credentials.get_frozen_credentials()  # noqa: SLF001
    SigV4Auth(credentials, "dynamodb", client.meta.region_name).add_auth(again)
    assert _text(again.headers["Authorization"]) == _text(ours.headers["Authorization"])


def test_unreachable_throttled_and_failed_attempts_are_sent_again_and_other_errors_raise(aws, installed, monkeypatch):
    monkeypatch.setattr(wire.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(batch.time, "sleep", lambda seconds: None)
    client = MembershipItem._get_connection().connection.client  # noqa: SLF001
    answers = [
        EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/"),
        (400, {"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException", "message": "slow"}),
        (500, {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "oops"}),
    ]

    def answer(request, **_):
        if not answers:
            return None
        found = answers.pop(0)
        if isinstance(found, Exception):
            raise found
        return _answer(request, *found)

    client.meta.events.register_first("before-send.dynamodb.BatchWriteItem", answer)
    try:
        assert memberships_repo.add_many("acme", "s2", ["a", "b"]) == 2
        assert not answers and memberships_repo.count("acme", "s2") == 2
        answers.append(
            (
                400,
                {
                    "__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
                    "message": "Item size has exceeded the maximum allowed size",
                },
            )
        )
        with pytest.raises(PutError, match="ValidationException.*maximum allowed size"):
            memberships_repo.add_many("acme", "s3", ["a"])
    finally:
        client.meta.events.unregister("before-send.dynamodb.BatchWriteItem", answer)


def test_a_request_with_a_binary_value_goes_through_the_client(aws, installed, calls):
    """botocore writes binary values as base64: such a request is left to the client."""
    table = MembershipItem.Meta.table_name
    assert wire.WireSender.body(table, [{"PutRequest": {"Item": {"pk": {"S": "x"}, "b": {"B": b"\x00"}}}}]) is None
    batch.write(MembershipItem, puts=[{"pk": {"S": "acme#s9"}, "sk": {"S": "c1"}, "blob": {"B": b"\x00\x01"}}])
    assert calls == ["BatchWriteItem"]
    assert memberships_repo.count("acme", "s9") == 1


def test_without_the_local_stack_batch_writes_stay_on_the_clients_call(aws, calls):
    """On AWS nothing installs the wire sender: every BatchWriteItem is botocore's own call (its retry
    modes, endpoint rules, tracing and request counters see it)."""
    assert memberships_repo.add_many("acme", "s4", [f"c{n}" for n in range(80)]) == 80
    assert calls.count("BatchWriteItem") == 4
    wire.install()
    wire.uninstall()
    assert memberships_repo.add_many("acme", "s5", ["a"]) == 1
    assert calls.count("BatchWriteItem") == 5
