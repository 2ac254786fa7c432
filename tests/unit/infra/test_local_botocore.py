"""The local stack's botocore DynamoDB request bodies: byte for byte what botocore's serializer writes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import botocore.session
import jmespath
import pytest
from botocore.serialize import JSONSerializer, create_serializer
from hypothesis import given, settings
from hypothesis import strategies as st

from infra import local_botocore
from tests.unit.infra.conftest import create_pk_sk_table

MODEL = botocore.session.get_session().get_service_model("dynamodb")
ITEM = {
    "pk": {"S": "T#t1#SEG#s1"},
    "sk": {"S": 'M#c1 "quoted" é \u2028'},
    "n": {"N": "1.5"},
    "ok": {"BOOL": True},
    "nothing": {"NULL": True},
    "tags": {"L": [{"S": "vip"}, {"M": {"x": {"SS": ["a", "b"]}}}]},
}
REQUESTS = [
    ("PutItem", {"TableName": "t", "Item": ITEM, "ConditionExpression": "attribute_not_exists(pk)"}),
    (
        "BatchWriteItem",
        {"RequestItems": {"t": [{"PutRequest": {"Item": ITEM}}, {"DeleteRequest": {"Key": {"pk": {"S": "x"}}}}]}},
    ),
    (
        "TransactWriteItems",
        {
            "TransactItems": [
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"pk": {"S": "a"}},
                        "UpdateExpression": "SET #0 = :0",
                        "ExpressionAttributeNames": {"#0": "w"},
                        "ExpressionAttributeValues": {":0": {"N": "3"}},
                    }
                }
            ]
        },
    ),
    (
        "Query",
        {
            "TableName": "t",
            "KeyConditionExpression": "pk = :p",
            "Limit": 100,
            "ConsistentRead": False,
            "ExpressionAttributeValues": {":p": {"S": "t1"}},
            "ExclusiveStartKey": {"pk": {"S": "t1"}},
        },
    ),
    ("BatchGetItem", {"RequestItems": {"t": {"Keys": [{"pk": {"S": "a"}}], "ProjectionExpression": "pk"}}}),
    ("PutItem", {"TableName": "t", "Item": {"pk": {"S": "a"}, "b": {"B": b"\x00\xff"}, "bs": {"BS": [b"\x01"]}}}),
    ("PutItem", {"TableName": "t", "Item": {"pk": {"S": "a"}, "b": {"B": "c3RyaW5n"}}}),  # str blob: base64'd again
    ("PutItem", {"TableName": "t", "Item": {"pk": {"S": "a"}, "ss": {"SS": {"x"}}}}),  # a set becomes a list
    ("PutItem", {"TableName": "t", "Item": {"pk": {"S": "a"}, "s": {"S": "null, [null"}}}),
    ("UpdateItem", {"TableName": "t", "Key": {"pk": {"S": "a"}}, "ReturnValues": None}),
    ("ListTables", {"Limit": 5}),
    ("DescribeTable", {"TableName": "t"}),
]


@pytest.fixture
def patched():
    local_botocore.install()
    yield
    local_botocore.uninstall()


def serialized(operation: str, parameters: dict) -> dict:
    serializer = create_serializer("json", include_validation=False)  # as pynamodb's clients
    return serializer.serialize_to_request(parameters, MODEL.operation_model(operation))


@pytest.mark.parametrize(("operation", "parameters"), REQUESTS)
def test_requests_are_serialized_byte_for_byte_as_botocore_does(patched, operation, parameters):
    ours = serialized(operation, parameters)
    local_botocore.uninstall()
    assert ours == serialized(operation, parameters)


def test_a_member_the_shape_lacks_is_refused_as_botocore_refuses_it(patched):
    with pytest.raises(KeyError):
        serialized("PutItem", {"TableName": "t", "Item": ITEM, "Unknown": 1})


def test_item_requests_of_plain_values_do_not_walk_the_shape(patched, monkeypatch):
    walked = []
    original = JSONSerializer._serialize
    monkeypatch.setattr(JSONSerializer, "_serialize", lambda self, *a: walked.append(1) or original(self, *a))
    serialized("BatchWriteItem", REQUESTS[1][1])
    serialized("Query", REQUESTS[3][1])
    assert walked == []


@pytest.mark.parametrize("value", [b"x", {"x"}, Decimal("1.5"), datetime(2026, 1, 1, tzinfo=UTC)])
def test_values_json_cannot_write_as_they_are_go_to_botocore(value):
    assert local_botocore.plain_body({"TableName": "t", "Item": {"v": value}}, MODEL.operation_model("PutItem")) is None


def _answers(client) -> list[dict]:
    key = {"pk": {"S": "t1"}, "sk": {"S": "a"}}
    calls = [
        lambda: client.put_item(TableName="t", Item={**ITEM, **key}, ReturnConsumedCapacity="TOTAL"),
        lambda: client.put_item(TableName="t", Item={**key, "sk": {"S": "bin"}, "b": {"B": b"\x00\xff"}}),
        lambda: client.batch_write_item(
            RequestItems={"t": [{"PutRequest": {"Item": {**key, "sk": {"S": f"m{i}"}}}} for i in range(3)]},
            ReturnConsumedCapacity="INDEXES",
        ),
        lambda: client.update_item(
            TableName="t",
            Key=key,
            UpdateExpression="SET #v = :v",
            ExpressionAttributeNames={"#v": "v"},
            ExpressionAttributeValues={":v": {"NS": ["1", "2.5"]}},
            ReturnValues="ALL_NEW",
        ),
        lambda: client.query(
            TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "t1"}}, Limit=3
        ),
        lambda: client.get_item(TableName="t", Key=key, ReturnConsumedCapacity="TOTAL"),
        lambda: client.get_item(TableName="t", Key={**key, "sk": {"S": "bin"}}),
        lambda: client.get_item(TableName="t", Key={**key, "sk": {"S": "nobody"}}),
        lambda: client.batch_get_item(RequestItems={"t": {"Keys": [key, {**key, "sk": {"S": "m1"}}]}}),
        lambda: client.delete_item(TableName="t", Key={**key, "sk": {"S": "m2"}}, ReturnValues="ALL_OLD"),
    ]
    return [{k: v for k, v in call().items() if k != "ResponseMetadata"} for call in calls]


@pytest.fixture
def table(moto_dynamodb):
    create_pk_sk_table(moto_dynamodb)
    return moto_dynamodb


def test_answers_are_parsed_as_botocore_parses_them(table, patched):
    ours = _answers(table)
    local_botocore.uninstall()
    table.delete_table(TableName="t")
    create_pk_sk_table(table)
    assert ours == _answers(table)


def test_item_answers_of_plain_values_do_not_walk_the_shape(table, patched, monkeypatch):
    from botocore.parsers import JSONParser

    table.put_item(TableName="t", Item=ITEM)
    walked = []
    original = JSONParser._parse_shape
    monkeypatch.setattr(JSONParser, "_parse_shape", lambda self, *a: walked.append(1) or original(self, *a))
    answer = table.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": ITEM["pk"]})
    assert answer["Items"][0]["tags"] == ITEM["tags"]
    assert walked == []


# ---- endpoint parameters: the operations' JMESPath context parameters without jmespath

_TABLE_NAMES = st.one_of(st.none(), st.sampled_from(["t", "u", "arn:aws:dynamodb:us-east-1:1:table/t"]))
_ACTION = st.one_of(st.none(), st.fixed_dictionaries({}, optional={"TableName": _TABLE_NAMES, "Key": st.just({})}))
_TRANSACT_ITEM = st.fixed_dictionaries(
    {}, optional={kind: _ACTION for kind in ("ConditionCheck", "Put", "Delete", "Update", "Get")}
)
_ODD = st.one_of(st.none(), st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=2))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(list(local_botocore.CONTEXT_PATHS)),
    st.fixed_dictionaries(
        {},
        optional={
            "TransactItems": st.one_of(st.lists(st.one_of(_TRANSACT_ITEM, _ODD), max_size=6), _ODD),
            "RequestItems": st.one_of(st.dictionaries(st.sampled_from(["t", "u", "v"]), st.just({})), _ODD),
        },
    ),
)
def test_context_parameters_are_jmespaths_answers(path, call_args):
    plain = local_botocore.context_param(path, call_args)
    try:
        expected = jmespath.search(path, call_args)
    except jmespath.exceptions.JMESPathError:
        assert plain is local_botocore._UNKNOWN  # noqa: SLF001 - jmespath's own error is kept
        return
    if plain is not local_botocore._UNKNOWN:  # noqa: SLF001
        assert plain == expected


def test_every_item_operations_context_path_is_computed_without_jmespath():
    paths = {
        params["path"]
        for name in ("BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems")
        for params in (MODEL.operation_model(name).operation_context_parameters or {}).values()
    }
    assert paths <= local_botocore.CONTEXT_PATHS.keys()


def test_a_transaction_resolves_its_endpoint_without_jmespath(patched, monkeypatch):
    import botocore.regions

    client = botocore.session.get_session().create_client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    put = {"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}}}}
    args = {"TransactItems": [put, {"Delete": {"TableName": "u", "Key": {"pk": {"S": "b"}}}}]}
    searched = []
    search = botocore.regions.jmespath.search
    monkeypatch.setattr(botocore.regions.jmespath, "search", lambda *a: searched.append(a) or search(*a))
    operation = MODEL.operation_model("TransactWriteItems")
    ours = client._ruleset_resolver.construct_endpoint(operation, args, {})  # noqa: SLF001
    assert searched == []
    local_botocore.uninstall()
    assert ours == client._ruleset_resolver.construct_endpoint(operation, args, {})  # noqa: SLF001
    assert searched
