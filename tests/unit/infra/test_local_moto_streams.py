"""The local stack's moto stream reads: the same records as moto's own serializer gives."""

from __future__ import annotations

import boto3
import pytest
import requests

from infra import local_moto_streams
from infra.local_triggers import get_records_as_sent, stream_event_record


def streamed_table(ddb) -> str:
    """Table ``t`` (key ``pk``) with a stream of both images; its stream's ARN."""
    return ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]


@pytest.fixture
def clients(moto_dynamodb):
    ddb = moto_dynamodb
    arn = streamed_table(ddb)
    endpoint = "https://streams.dynamodb.us-east-1.amazonaws.com"  # moto's streams endpoint
    yield ddb, boto3.client("dynamodbstreams", region_name="us-east-1", endpoint_url=endpoint), arn
    local_moto_streams.uninstall()


def read_all(streams, arn):
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    answer = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=100)
    times = [r["dynamodb"].pop("ApproximateCreationDateTime") for r in answer["Records"]]
    return answer["Records"], "NextShardIterator" in answer, [t.timestamp() for t in times]


def test_records_read_the_same_as_through_motos_serializer(clients):
    ddb, streams, arn = clients
    item = {
        "pk": {"S": "c1"}, "n": {"N": "1.5"}, "ok": {"BOOL": True}, "none": {"NULL": True},
        "tags": {"L": [{"S": "vip"}, {"N": "2"}]}, "fields": {"M": {"email": {"S": "a@b.co"}}},
        "set": {"SS": ["x", "y"]}, "blob": {"B": b"\x00\x01"},
    }
    ddb.put_item(TableName="t", Item=item)
    ddb.put_item(TableName="t", Item={**item, "n": {"N": "2"}})
    ddb.delete_item(TableName="t", Key={"pk": {"S": "c1"}})
    unpatched = read_all(streams, arn)
    local_moto_streams.install()
    patched = read_all(streams, arn)
    assert patched[:2] == unpatched[:2]
    assert all(abs(a - b) < 0.002 for a, b in zip(patched[2], unpatched[2], strict=True))
    assert [r["eventName"] for r in patched[0]] == ["INSERT", "MODIFY", "REMOVE"]
    assert patched[0][1]["dynamodb"]["OldImage"]["n"] == {"N": "1.5"}


@pytest.mark.parametrize("patched", [False, True])
def test_the_local_poller_hands_over_records_read_as_sent_the_same_as_through_botocore(clients, patched):
    ddb, streams, arn = clients
    item = {"pk": {"S": "c1"}, "n": {"N": "1.5"}, "none": {"NULL": True}, "blob": {"B": b"\x00\x01"},
            "blobs": {"BS": [b"\x02"]}, "fields": {"M": {"l": {"L": [{"S": "x"}, {"BOOL": False}]}}}}
    ddb.put_item(TableName="t", Item=item)
    ddb.put_item(TableName="t", Item={**item, "n": {"N": "2"}})
    ddb.delete_item(TableName="t", Key={"pk": {"S": "c1"}})
    if patched:
        local_moto_streams.install()
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

    def iterator():
        answer = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        return answer["ShardIterator"]

    through_botocore = streams.get_records(ShardIterator=iterator(), Limit=100)
    as_sent = get_records_as_sent(requests.Session(), streams.meta.endpoint_url, "us-east-1", iterator(), 100)
    assert len(as_sent["Records"]) == 3 and as_sent["NextShardIterator"]
    assert [stream_event_record(r, arn, "us-east-1", as_sent=True) for r in as_sent["Records"]] == [
        stream_event_record(r, arn, "us-east-1") for r in through_botocore["Records"]
    ]
    assert as_sent["Records"][0]["dynamodb"]["NewImage"]["blob"] == {"B": "AAE="}


def stream_scenario(client) -> list:
    """Writes of every kind to a table with a stream, over items of every attribute type."""
    from tests.unit.infra.conftest import create_pk_sk_table, table_state

    create_pk_sk_table(client, "s", stream=True)
    item = {
        "pk": {"S": "t"}, "sk": {"S": "c1"}, "n": {"N": "1.50"}, "ok": {"BOOL": False}, "none": {"NULL": True},
        "tags": {"L": [{"S": "vip"}, {"N": "2"}, {"L": []}, {"M": {}}]}, "set": {"SS": ["x", "y"]},
        "nums": {"NS": ["1", "2"]}, "fields": {"M": {"email": {"S": "é@b.co"}, "deep": {"M": {"k": {"S": "\u2028"}}}}},
    }
    binary = {**item, "sk": {"S": "c2"}, "blob": {"B": b"\x00\xff"}, "blobs": {"BS": [b"\x01"]},
              "fields": {"M": {"raw": {"B": b"\x02"}}}}
    client.put_item(TableName="s", Item=item)
    client.put_item(TableName="s", Item=binary)
    client.put_item(TableName="s", Item={**item, "n": {"N": "2"}})  # overwrites: an old image
    client.update_item(
        TableName="s", Key={"pk": {"S": "t"}, "sk": {"S": "c1"}},
        UpdateExpression="SET #f.#e = :e, tags[0] = :v ADD #s :more",
        ExpressionAttributeNames={"#f": "fields", "#e": "email", "#s": "set"},
        ExpressionAttributeValues={":e": {"S": "new@b.co"}, ":v": {"S": "gold"}, ":more": {"SS": ["z"]}},
    )
    client.batch_write_item(RequestItems={"s": [{"PutRequest": {"Item": {**item, "sk": {"S": f"b{i}"}}}}
                                                for i in range(3)]})
    client.transact_write_items(TransactItems=[{"Put": {"TableName": "s", "Item": {**item, "sk": {"S": "x"}}}}])
    client.update_item(TableName="s", Key={"pk": {"S": "t"}, "sk": {"S": "new"}}, UpdateExpression="SET v = :v",
                       ExpressionAttributeValues={":v": {"N": "1"}})
    client.delete_item(TableName="s", Key={"pk": {"S": "t"}, "sk": {"S": "c2"}})
    return [table_state(client, "s")]


def test_stream_records_are_moto_s_own_for_every_write_and_value(monkeypatch):
    from tests.unit.infra.conftest import unpatched_and_patched

    unpatched, patched = unpatched_and_patched(stream_scenario, monkeypatch)
    assert patched == unpatched
    records = unpatched[0]["s"]["records"]
    assert [r["eventName"] for r in records] == ["INSERT", "INSERT", "MODIFY", "MODIFY", "INSERT", "INSERT",
                                                 "INSERT", "INSERT", "INSERT", "INSERT", "REMOVE"]
    # a put's image is what was put, also after the item was changed in place by an update
    assert records[2]["dynamodb"]["NewImage"]["fields"]["M"]["email"] == {"S": "é@b.co"}
    assert records[2]["dynamodb"]["NewImage"]["set"] == {"SS": ["x", "y"]}


def test_a_put_s_stream_record_does_not_walk_the_new_item_again(monkeypatch, moto_dynamodb):
    from moto.dynamodb.models.dynamo_type import Item

    from infra.local_moto import install_patches, uninstall_patches
    from tests.unit.infra.conftest import create_pk_sk_table

    create_pk_sk_table(moto_dynamodb, "s", stream=True)
    walked = []
    real = Item.to_json
    monkeypatch.setattr(Item, "to_json", lambda self, *a: walked.append(self) or real(self, *a))
    install_patches()
    try:
        moto_dynamodb.batch_write_item(RequestItems={"s": [
            {"PutRequest": {"Item": {"pk": {"S": "t"}, "sk": {"S": f"c{i}"}, "m": {"M": {"a": {"S": "b"}}}}}}
            for i in range(5)
        ]})
    finally:
        uninstall_patches()
    assert walked == []


@pytest.mark.parametrize("view", ["NEW_IMAGE", "OLD_IMAGE", "KEYS_ONLY"])
def test_a_stream_record_builds_only_the_images_its_view_type_sends(monkeypatch, moto_dynamodb, view):
    built: list[str] = []
    real = local_moto_streams.make_image

    def counting() -> object:
        image = real()
        return lambda item: built.append(getattr(item.attrs.get("v"), "value", None)) or image(item)

    monkeypatch.setattr(local_moto_streams, "make_image", counting)
    moto_dynamodb.create_table(
        TableName="v",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
    )
    local_moto_streams.install()
    try:
        for value in ("old", "new"):  # an insert, then an overwrite (a record with an old image)
            moto_dynamodb.put_item(TableName="v", Item={"pk": {"S": "c1"}, "v": {"S": value}})
    finally:
        local_moto_streams.uninstall()
    sent = {"NEW_IMAGE": ["old", "new"], "OLD_IMAGE": ["old"], "KEYS_ONLY": []}[view]
    assert built == sent  # moto's way built both images of every record whatever the view type


def test_records_written_while_patched_read_with_moto_s_sizes_and_no_json_per_write(monkeypatch, clients):
    import moto.dynamodb.models.table as tables

    ddb, streams, arn = clients
    item = {"pk": {"S": "c1"}, "n": {"N": "1.5"}, "tags": {"L": [{"S": "é"}, {"N": "2"}]},
            "fields": {"M": {"email": {"S": "a@b.co"}, "raw": {"B": b"\x00\x01"}}}, "set": {"SS": ["x"]}}

    def writes(table: str) -> None:
        ddb.put_item(TableName=table, Item=item)
        ddb.put_item(TableName=table, Item={**item, "n": {"N": "22"}})
        ddb.update_item(TableName=table, Key={"pk": {"S": "c2"}}, UpdateExpression="SET v = :v",
                        ExpressionAttributeValues={":v": {"S": "x" * 300}})
        ddb.delete_item(TableName=table, Key={"pk": {"S": "c1"}})

    writes("t")
    unpatched = read_all(streams, arn)[0]
    ddb.create_table(
        TableName="t2",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    arn2 = ddb.describe_table(TableName="t2")["Table"]["LatestStreamArn"]
    local_moto_streams.install()
    dumped = []
    real = tables.dynamo_json_dump
    monkeypatch.setattr(tables, "dynamo_json_dump", lambda value: dumped.append(value) or real(value))
    writes("t2")
    assert dumped == []  # moto's way wrote every record's JSON out at the write, to measure its size
    patched = read_all(streams, arn2)[0]
    assert dumped == []  # measured on the JSON GetRecords sent
    assert len(patched) == len(unpatched) == 5  # moto records an update of a new item twice
    from moto.dynamodb.models import dynamodb_backends

    stored = dynamodb_backends["123456789012"]["us-east-1"].tables["t2"].stream_shard.items
    measured = [len(real({**r.__dict__["record"]["dynamodb"], "SizeBytes": 1})) for r in stored]  # moto's measure
    assert [r["dynamodb"]["SizeBytes"] for r in patched] == measured
    assert [r["dynamodb"]["SizeBytes"] for r in read_all(streams, arn2)[0]] == measured  # read again: the same
    for mine, theirs in zip(patched, unpatched, strict=True):  # the rest as moto's own (the sizes: other times)
        mine["dynamodb"].pop("SizeBytes"), theirs["dynamodb"].pop("SizeBytes")
        assert {k: v for k, v in mine.items() if k != "eventID"} == {k: v for k, v in theirs.items() if k != "eventID"}



def written_and_read(patched: bool, converted: list) -> list:
    """A stream's records written and read on a fresh moto, with the local stream patch or without."""
    from moto import mock_aws

    item = {"pk": {"S": "c1"}, "n": {"N": "1.5"}, "ok": {"BOOL": True}, "none": {"NULL": True},
            "tags": {"L": [{"S": "vip"}]}, "fields": {"M": {"email": {"S": "é@b.co"}}}, "set": {"SS": ["x"]}}
    with mock_aws():
        if patched:
            local_moto_streams.install()
        try:
            ddb = boto3.client("dynamodb", region_name="us-east-1")
            arn = streamed_table(ddb)
            ddb.put_item(TableName="t", Item=item)
            ddb.put_item(TableName="t", Item={**item, "n": {"N": "2"}})
            ddb.delete_item(TableName="t", Key={"pk": {"S": "c1"}})
            endpoint = "https://streams.dynamodb.us-east-1.amazonaws.com"
            streams = boto3.client("dynamodbstreams", region_name="us-east-1", endpoint_url=endpoint)
            converted.clear()
            return read_all(streams, arn)
        finally:
            local_moto_streams.uninstall()


def test_records_without_binary_values_read_the_same_without_converting_their_time_per_call(monkeypatch):
    import moto.core.utils as utils

    from tests.unit.infra.conftest import freeze_moto_records

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    freeze_moto_records(monkeypatch)
    converted: list = []
    real = utils.utcfromtimestamp
    monkeypatch.setattr(utils, "utcfromtimestamp", lambda value: converted.append(value) or real(value))
    unpatched = written_and_read(False, converted)
    patched = written_and_read(True, converted)
    assert patched == unpatched  # the records, SizeBytes included, and their times
    assert [r["eventName"] for r in patched[0]] == ["INSERT", "MODIFY", "REMOVE"]
    assert converted == []  # the local GetRecords before built an epoch twice per record


def test_event_ids_are_moto_s_for_the_same_seed_without_making_uuid_objects(monkeypatch):
    import moto.dynamodb.models.table as tables
    from moto.moto_api._internal.moto_random import MotoRandom

    made = []
    real = MotoRandom.uuid4
    monkeypatch.setattr(MotoRandom, "uuid4", lambda self: made.append(self) or real(self))
    event_id = local_moto_streams.make_event_id()
    drawn = []
    for draw in (event_id, lambda: real(tables.mock_random).hex):
        tables.mock_random.seed(11)
        drawn.append([draw() for _ in range(50)] + [tables.mock_random.getrandbits(64)])
    assert drawn[0] == drawn[1]
    assert made == []  # moto made a UUID object per record
    fixed = type("Fixed", (), {"hex": "0" * 32})()
    monkeypatch.setattr(tables.mock_random, "uuid4", lambda: fixed)  # a test's fixed id is asked for as moto asks
    assert event_id() == "0" * 32


def test_creation_times_are_moto_s_utc_now(monkeypatch):
    import datetime

    import moto.dynamodb.models.table as tables
    from moto.core.utils import utcnow

    created_at = local_moto_streams.make_created_at()
    before, made, after = utcnow(), created_at(), utcnow()
    assert before <= made <= after and made.tzinfo is None
    fixed = datetime.datetime(2026, 1, 2, 3, 4, 5)
    monkeypatch.setattr(tables, "utcnow", lambda: fixed)
    assert created_at() == fixed
