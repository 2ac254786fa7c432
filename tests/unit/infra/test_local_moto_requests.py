"""The local stack's moto requests: item operations read with json.loads, with moto's own parameters."""

from __future__ import annotations

import pytest

from infra import local_moto_requests
from infra.local_moto_requests import plain_params
from tests.unit.infra.conftest import create_pk_sk_table


@pytest.fixture
def ddb(moto_dynamodb):
    create_pk_sk_table(moto_dynamodb)
    sent: list[tuple[str, bytes]] = []

    def record(request, **_):
        target = request.headers.get("X-Amz-Target", b"")
        sent.append(((target.decode() if isinstance(target, bytes) else target).split(".")[-1], request.body))

    moto_dynamodb.meta.events.register("before-send.dynamodb.*", record)
    yield moto_dynamodb, sent
    local_moto_requests.uninstall()


ITEM = {
    "pk": {"S": "t"},
    "sk": {"S": "a"},
    "n": {"N": "1.5"},
    "ok": {"BOOL": True},
    "nothing": {"NULL": True},
    "m": {"M": {"l": {"L": [{"S": "x"}, {"N": "2"}]}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1"]}}},
}
BINARY = {"pk": {"S": "t"}, "sk": {"S": "b"}, "b": {"B": b"\x00\xff"}, "bs": {"BS": [b"\x01"]}}


def calls(ddb):
    key = {"pk": {"S": "t"}, "sk": {"S": "a"}}
    ddb.put_item(TableName="t", Item=ITEM, ConditionExpression="attribute_not_exists(pk)")
    ddb.put_item(TableName="t", Item=BINARY)
    ddb.update_item(
        TableName="t",
        Key=key,
        UpdateExpression="SET #v = :v ADD #c :one",
        ExpressionAttributeNames={"#v": "v", "#c": "c"},
        ExpressionAttributeValues={":v": {"S": "x"}, ":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    )
    ddb.get_item(TableName="t", Key=key, ConsistentRead=True, ProjectionExpression="pk, m.l[0]")
    ddb.query(
        TableName="t",
        KeyConditionExpression="pk = :p AND sk > :s",
        Limit=1,
        ScanIndexForward=False,
        ExpressionAttributeValues={":p": {"S": "t"}, ":s": {"S": "0"}},
        ExclusiveStartKey=key,
        ReturnConsumedCapacity="TOTAL",
    )
    ddb.scan(TableName="t", Segment=0, TotalSegments=2, FilterExpression="attribute_exists(n)")
    both = [key, {"pk": {"S": "t"}, "sk": {"S": "b"}}]
    ddb.batch_get_item(RequestItems={"t": {"Keys": both, "ConsistentRead": True}})
    ddb.batch_write_item(
        RequestItems={
            "t": [
                {"PutRequest": {"Item": {**ITEM, "sk": {"S": "c"}}}},
                {"DeleteRequest": {"Key": {"pk": {"S": "t"}, "sk": {"S": "zz"}}}},
            ]
        }
    )
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "t", "Item": {**ITEM, "sk": {"S": "d"}}}},
            {
                "Update": {
                    "TableName": "t",
                    "Key": key,
                    "UpdateExpression": "SET #w = :w",
                    "ExpressionAttributeNames": {"#w": "w"},
                    "ExpressionAttributeValues": {":w": {"S": "1"}},
                }
            },
            {
                "ConditionCheck": {
                    "TableName": "t",
                    "Key": {"pk": {"S": "t"}, "sk": {"S": "b"}},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
        ]
    )
    ddb.transact_get_items(TransactItems=[{"Get": {"TableName": "t", "Key": key}}])
    ddb.delete_item(TableName="t", Key={"pk": {"S": "t"}, "sk": {"S": "c"}}, ReturnValues="ALL_OLD")
    ddb.describe_table(TableName="t")
    return [ddb.get_item(TableName="t", Key={"pk": {"S": "t"}, "sk": {"S": s}})["Item"] for s in "abd"]


def test_item_requests_give_moto_the_parameters_its_parser_gives(ddb):
    from moto.core.parse import JSONParser
    from moto.core.responses import get_service_model  # what moto's handler parses with

    client, sent = ddb
    calls(client)
    model = get_service_model("dynamodb")
    taken = []
    for operation, body in sent:
        plain = plain_params(operation, body)
        if plain is None:
            continue
        taken.append(operation)
        parsed = JSONParser(model.operation_model(operation), map_type=dict).parse(
            {"method": "POST", "values": {}, "headers": {}, "body": body, "url_path": "/", "url_params": {}}
        )
        assert plain == parsed, operation
    # every item operation but the binary put took the plain way; DescribeTable never does
    assert set(taken) == local_moto_requests.ITEM_OPERATIONS
    assert taken.count("PutItem") == 1
    assert plain_params("DescribeTable", b'{"TableName": "t"}') is None


def test_stored_items_are_the_same_with_the_plain_reading(ddb):
    client, _ = ddb
    unpatched = calls(client)
    client.delete_table(TableName="t")
    create_pk_sk_table(client)
    local_moto_requests.install()
    assert calls(client) == unpatched
    assert unpatched[1]["b"] == {"B": b"\x00\xff"}


def test_a_handler_s_method_names_are_listed_once_not_per_request(ddb, monkeypatch):
    import inspect

    listed = []
    real = inspect.getmembers
    monkeypatch.setattr(inspect, "getmembers", lambda obj, predicate=None: listed.append(obj) or real(obj, predicate))
    client, _ = ddb
    local_moto_requests.install()
    for n in range(5):
        client.put_item(TableName="t", Item={"pk": {"S": "t"}, "sk": {"S": str(n)}})
    assert client.get_item(TableName="t", Key={"pk": {"S": "t"}, "sk": {"S": "3"}})["Item"]["sk"] == {"S": "3"}
    assert len(listed) <= 1  # moto listed them for each of the 6 requests


@pytest.mark.parametrize("arguments", [(52, True, False), (20, False, False), (7, True, True), (0, True, False)])
def test_random_strings_are_moto_s_own_for_the_same_seed(arguments):
    from moto.moto_api._internal.moto_random import MotoRandom

    drawn = []
    for get in (MotoRandom.get_random_string, local_moto_requests.make_random_string(MotoRandom.get_random_string)):
        generator = MotoRandom(1234)
        drawn.append([get(generator, *arguments) for _ in range(50)] + [generator.getrandbits(64)])
    assert drawn[0] == drawn[1]


def test_a_request_id_is_drawn_without_a_choice_call_per_character(ddb, monkeypatch):
    import random

    chosen = []
    real = random.Random.choice
    monkeypatch.setattr(random.Random, "choice", lambda self, seq: chosen.append(seq) or real(self, seq))
    client, _ = ddb
    local_moto_requests.install()
    answer = client.put_item(TableName="t", Item={"pk": {"S": "t"}, "sk": {"S": "x"}})
    assert len(answer["ResponseMetadata"]["RequestId"]) == 52
    assert chosen == []  # moto's own draws 52


def test_moto_s_modules_are_listed_once_for_the_dispatcher(monkeypatch):
    import os

    import moto.backends as backends

    listed = []
    real = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path=".": listed.append(path) or real(path))
    own = list(backends.list_of_moto_modules())
    local_moto_requests.install()
    try:
        kept = [list(backends.list_of_moto_modules()) for _ in range(3)]
    finally:
        local_moto_requests.uninstall()
    assert kept == [own] * 3 and "dynamodb" in own
    assert len(listed) == 2  # moto's own listing above, then one kept for the three asks


def test_a_transaction_finds_its_backend_once_not_per_item(ddb, monkeypatch):
    from moto.dynamodb.models import dynamodb_backends

    client, _ = ddb
    looked_up = []
    real = type(dynamodb_backends).__getitem__

    def getitem(self, account_id):
        if self is dynamodb_backends:
            looked_up.append(account_id)
        return real(self, account_id)

    monkeypatch.setattr(type(dynamodb_backends), "__getitem__", getitem)
    local_moto_requests.install()
    puts = [{"Put": {"TableName": "t", "Item": {"pk": {"S": "t"}, "sk": {"S": str(n)}}}} for n in range(20)]
    client.transact_write_items(TransactItems=puts)
    assert len(looked_up) <= 3  # moto's handler looked it up once more for each of the 20 items
    assert client.get_item(TableName="t", Key={"pk": {"S": "t"}, "sk": {"S": "19"}})["Item"]["sk"] == {"S": "19"}
