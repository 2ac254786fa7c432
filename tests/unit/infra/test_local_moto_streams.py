"""The local stack's moto stream reads: the same records as moto's own serializer gives."""

from __future__ import annotations

import boto3
import pytest
import requests

from infra import local_moto_streams
from infra.local_triggers import get_records_as_sent, stream_event_record


@pytest.fixture
def clients(moto_dynamodb):
    ddb = moto_dynamodb
    arn = ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
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
