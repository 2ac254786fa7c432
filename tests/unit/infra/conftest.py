"""Shared set-up of the local moto patches' tests: a DynamoDB client on moto's in-process mock."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws


@pytest.fixture
def moto_dynamodb(monkeypatch):
    """A DynamoDB client of moto's in-process mock (dummy credentials); each test creates its tables."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


def create_pk_sk_table(
    client, name: str = "t", *, stream: bool = False, index: tuple[str, str, str] | None = None
) -> dict:
    """A pay-per-request table keyed by string ``pk`` and ``sk`` (with a new-and-old-images stream when
    asked, and ``index`` = (name, hash key, range key) a global index of string keys projecting every
    attribute): the table most patch tests compare patched and unpatched moto on. Its description."""
    extra: dict = {}
    if stream:
        extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    keys = ["pk", "sk"]
    if index is not None:
        index_name, index_hash, index_range = index
        keys += [index_hash, index_range]
        extra["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index_name,
                "KeySchema": [
                    {"AttributeName": index_hash, "KeyType": "HASH"},
                    {"AttributeName": index_range, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ]
    return client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in keys],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )["TableDescription"]


def freeze_moto_records(monkeypatch) -> None:
    """Stream records with a fixed time and event id, so that two runs' records compare equal."""
    import datetime

    import moto.dynamodb.models.table as tables

    class FixedId:
        hex = "0" * 32

    monkeypatch.setattr(tables, "utcnow", lambda: datetime.datetime(2026, 1, 2, 3, 4, 5, 678000))
    monkeypatch.setattr(tables.mock_random, "uuid4", lambda: FixedId())


def unpatched_and_patched(scenario, monkeypatch, config=None) -> list:
    """``scenario(client)`` on a fresh unpatched moto, then on a fresh moto with every local patch
    (``infra.local_moto.install_patches``): its two results. ``config``: the client's botocore Config
    (e.g. no client-side validation, to send values as a careless caller would)."""
    from infra.local_moto import install_patches, uninstall_patches

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    freeze_moto_records(monkeypatch)
    results = []
    for patched in (False, True):
        with mock_aws():
            if patched:
                install_patches()
            try:
                results.append(scenario(boto3.client("dynamodb", region_name="us-east-1", config=config)))
            finally:
                uninstall_patches()
    return results


def outcome(call, **kwargs) -> dict:
    """A client call's answer (without its request metadata), or its error code, message and
    cancellation reasons."""
    from botocore.exceptions import ClientError

    try:
        answer = call(**kwargs)
    except ClientError as exc:
        error = exc.response["Error"]
        return {"error": error.get("Code"), "message": error.get("Message"),
                "reasons": exc.response.get("CancellationReasons")}
    answer.pop("ResponseMetadata", None)
    return answer


def table_state(client, *names: str) -> dict:
    """Every item of the named tables (scanned, in key order) and their stream records as moto keeps them."""
    import copy

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    tables = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables
    state = {}
    for name in names:
        items = client.scan(TableName=name, ConsistentRead=True)["Items"]
        shard = tables[name].stream_shard
        records = [copy.deepcopy(r.record) for r in shard.items] if shard is not None else []
        state[name] = {"items": sorted(items, key=repr), "records": records}
    return state
