"""The local stack's moto queries: same answers as moto's own, reading only the asked partition."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from infra import local_moto_queries


@pytest.fixture
def ddb(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by_g",
                    "KeySchema": [
                        {"AttributeName": "g", "KeyType": "HASH"},
                        {"AttributeName": "sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for p in range(5):
            for s in (9, 3, 11, 0, 7, 1):
                client.put_item(
                    TableName="t",
                    Item={"pk": {"S": f"p{p}"}, "sk": {"S": f"s{s:02d}"}, "g": {"S": f"g{s % 2}"}, "n": {"N": str(s)}},
                )
        yield client
    local_moto_queries.uninstall()


QUERIES = [
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p2"}}},
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "nobody"}}},
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p3"}}, "ScanIndexForward": False},
    {"KeyConditionExpression": "pk = :p AND sk > :s",
     "ExpressionAttributeValues": {":p": {"S": "p1"}, ":s": {"S": "s03"}}},
    {"KeyConditionExpression": "pk = :p", "FilterExpression": "n > :n",
     "ExpressionAttributeValues": {":p": {"S": "p4"}, ":n": {"N": "2"}}},
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p0"}}, "Limit": 2,
     "ExclusiveStartKey": {"pk": {"S": "p0"}, "sk": {"S": "s01"}}},
    {"IndexName": "by_g", "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "g1"}}},
]


def run_all(ddb):
    return [ddb.query(TableName="t", **q) for q in QUERIES]


def strip(answers):
    return [{k: v for k, v in a.items() if k != "ResponseMetadata"} for a in answers]


def test_patched_queries_answer_exactly_as_moto_does(ddb):
    unpatched = strip(run_all(ddb))
    local_moto_queries.install()
    assert strip(run_all(ddb)) == unpatched
    assert [len(a["Items"]) for a in unpatched][:2] == [6, 0]


def test_a_base_table_query_never_lists_the_whole_table(ddb):
    from moto.dynamodb.models.table import Table

    local_moto_queries.install()
    patched = Table.all_items
    listed: list[int] = []

    def counting(self):
        items = patched(self)
        listed.append(len(items))
        return items

    Table.all_items = counting
    try:
        ddb.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p2"}})
    finally:
        Table.all_items = patched
    assert listed and max(listed) == 6  # one partition, not the table's 30 items
