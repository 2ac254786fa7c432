"""The local stack's moto Query page by page: the same answers as moto's own, table and index queries."""

from __future__ import annotations

import random

import boto3
import pytest
from moto import mock_aws

from infra.local_moto_queries import install, uninstall


def _create(ddb):
    ddb.create_table(
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
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    items = [
        {"pk": {"S": f"p{p}"}, "sk": {"S": f"s{s:03d}"}, "v": {"N": str(s)}, "g": {"S": f"g{(p + s) % 3}"}}
        for p in range(4)
        for s in range(60)
    ]
    random.Random(7).shuffle(items)  # a partition's items stored out of key order
    for first in range(0, len(items), 25):
        ddb.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": i}} for i in items[first : first + 25]]})


QUERIES = [
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p2"}}},
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p1"}}, "Limit": 7},
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p3"}}, "ScanIndexForward": False},
    {
        "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
        "ExpressionAttributeValues": {":p": {"S": "p0"}, ":a": {"S": "s010"}, ":b": {"S": "s020"}},
    },
    {
        "KeyConditionExpression": "pk = :p",
        "FilterExpression": "v > :n",
        "ExpressionAttributeValues": {":p": {"S": "p0"}, ":n": {"N": "50"}},
    },
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "absent"}}},
    {
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "p2"}},
        "Limit": 9,
        "ScanIndexForward": False,
    },
    {
        "KeyConditionExpression": "pk = :p AND sk > :a",
        "ExpressionAttributeValues": {":p": {"S": "p1"}, ":a": {"S": "s030"}},
        "Limit": 4,
        "ScanIndexForward": False,
    },
    {"IndexName": "by_g", "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "g1"}}},
    {
        "IndexName": "by_g",
        "KeyConditionExpression": "g = :g",
        "ExpressionAttributeValues": {":g": {"S": "g2"}},
        "Limit": 11,
        "ScanIndexForward": False,
    },
]


def _all_pages(ddb, query):
    pages, start = [], None
    while True:
        answer = ddb.query(TableName="t", **query, **({"ExclusiveStartKey": start} if start else {}))
        pages.append(answer["Items"])
        start = answer.get("LastEvaluatedKey")
        if not start:
            return pages


def _answers():
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        _create(ddb)
        return [_all_pages(ddb, query) for query in QUERIES]


@pytest.fixture
def credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_queries_answer_page_by_page_exactly_as_moto_does(credentials):
    unpatched = _answers()
    install()
    try:
        patched = _answers()
    finally:
        uninstall()
    assert patched == unpatched
    assert [len(pages[0]) for pages in patched][:2] == [60, 7]


def test_a_table_query_never_lists_the_whole_table(credentials, monkeypatch):
    from moto.dynamodb.models.table import Table

    install()
    try:
        with mock_aws():
            ddb = boto3.client("dynamodb", region_name="us-east-1")
            _create(ddb)
            listed: list[int] = []
            patched_all_items = Table.all_items

            def counting(self):
                found = patched_all_items(self)
                listed.append(len(found))
                return found

            monkeypatch.setattr(Table, "all_items", counting)
            answer = ddb.query(TableName="t", **QUERIES[0])
            scanned = ddb.scan(TableName="t")  # a Scan still reads everything
    finally:
        monkeypatch.undo()
        uninstall()
    assert len(answer["Items"]) == 60 and len(scanned["Items"]) == 240
    assert listed[0] == 60  # the query's partition only


def test_a_query_copies_none_of_its_items_and_leaves_the_stored_ones_as_they_were(credentials, monkeypatch):
    from moto.dynamodb.models.dynamo_type import Item

    install()
    try:
        with mock_aws():
            ddb = boto3.client("dynamodb", region_name="us-east-1")
            _create(ddb)
            copies = []
            real = Item.__deepcopy__
            monkeypatch.setattr(Item, "__deepcopy__", lambda self, memo: copies.append(self) or real(self, memo))
            pages = [_all_pages(ddb, query) for query in QUERIES]
            again = [_all_pages(ddb, query) for query in QUERIES]
    finally:
        monkeypatch.undo()
        uninstall()
    assert copies == []
    assert again == pages  # projections and filters built their own items


def test_a_partition_of_text_sort_keys_is_ordered_without_motos_cast_value(credentials, monkeypatch):
    """``cast_value`` asks five type questions per key; a text or binary key's value is read directly,
    in the same order (numbers keep ``cast_value``: ``"10" < "9"`` as text)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    from infra.local_moto_queries import _after_start

    class Table:
        range_key_attr = "sk"

    class Stored:
        def __init__(self, kind, value):
            self.range_key = DynamoType({kind: value})

    texts = [Stored("S", f"s{n:03d}") for n in random.Random(3).sample(range(200), 200)]
    numbers = [Stored("N", str(n)) for n in (10, 9, 100, -1)]
    cast = []
    moto_cast = DynamoType.cast_value

    monkeypatch.setattr(DynamoType, "cast_value", property(lambda self: cast.append(self) or moto_cast.fget(self)))
    ordered = _after_start(Table(), texts, None, None, True)
    assert cast == []
    assert [s.range_key.value for s in ordered] == sorted(s.range_key.value for s in texts)
    assert [s.range_key.value for s in _after_start(Table(), numbers, None, None, True)] == ["-1", "9", "10", "100"]
