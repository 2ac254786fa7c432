"""The local stack's moto read answers: what botocore parses is what moto's own serializer gives."""

from __future__ import annotations

import pytest

from infra import local_moto_answers


@pytest.fixture
def ddb(moto_dynamodb):
    client = moto_dynamodb
    client.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "u", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_u",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "u", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["f"]},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for i in range(12):
        client.put_item(TableName="t", Item={
            "pk": {"S": "t1"}, "sk": {"S": f"c{i:02d}"}, "u": {"S": f"2026-01-{i + 1:02d}"},
            "f": {"M": {"email": {"S": f"a{i}@b.co"}, "score": {"N": str(i * 1.5)}, "tags": {"L": [{"S": "vip"}]},
                        "ok": {"BOOL": i % 2 == 0}, "none": {"NULL": True}}},
            "b": {"B": bytes([i, 0, 255])}, "bs": {"BS": [b"\x01", b"\x02"]}, "ns": {"NS": ["1", "2.5"]},
            "ss": {"SS": ["x", "y"]},
        })
    yield client
    local_moto_answers.uninstall()


def reads(ddb):
    key = {"pk": {"S": "t1"}, "sk": {"S": "c03"}}
    calls = [
        ddb.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "t1"}},
                  Limit=5, ReturnConsumedCapacity="TOTAL"),
        ddb.query(TableName="t", IndexName="by_u", KeyConditionExpression="pk = :p AND u > :u",
                  ExpressionAttributeValues={":p": {"S": "t1"}, ":u": {"S": "2026-01-05"}}),
        ddb.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "t1"}},
                  Select="COUNT"),
        ddb.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "none"}}),
        ddb.scan(TableName="t", ProjectionExpression="sk, f.email, b", Limit=7),
        ddb.get_item(TableName="t", Key=key, ConsistentRead=True),
        ddb.get_item(TableName="t", Key={"pk": {"S": "t1"}, "sk": {"S": "nobody"}}),
        ddb.batch_get_item(RequestItems={"t": {"Keys": [key, {"pk": {"S": "t1"}, "sk": {"S": "c07"}}]}}),
    ]
    return [{k: v for k, v in answer.items() if k != "ResponseMetadata"} for answer in calls]


def unpatched_and_patched(ddb, calls):
    """The answers of ``calls(ddb)`` through moto's serializer, then through the patch."""
    unpatched = calls(ddb)
    local_moto_answers.install()
    return unpatched, calls(ddb)


def test_read_answers_parse_exactly_as_through_motos_serializer(ddb):
    unpatched, patched = unpatched_and_patched(ddb, reads)
    assert patched == unpatched
    assert patched[0]["Items"][1]["b"] == {"B": bytes([1, 0, 255])} and "LastEvaluatedKey" in patched[0]
    assert "Item" not in patched[6]


def writes(ddb):
    """Each kind of write with what it can answer: old and new attributes, capacity, unprocessed;
    the table is left as it was found (but for c00)."""
    sk = "w"
    key = {"pk": {"S": "t1"}, "sk": {"S": sk}}
    item = {**key, "u": {"S": "2026-02-01"}, "f": {"M": {"n": {"N": "2"}}}, "b": {"B": b"\x01"}}
    calls = [
        ddb.put_item(TableName="t", Item=item, ReturnValues="ALL_OLD", ReturnConsumedCapacity="TOTAL"),
        ddb.put_item(TableName="t", Item=item, ReturnValues="ALL_OLD", ReturnItemCollectionMetrics="SIZE"),
        ddb.update_item(TableName="t", Key=key, UpdateExpression="SET #v = :v", ExpressionAttributeNames={"#v": "v"},
                        ExpressionAttributeValues={":v": {"SS": ["a", "b"]}}, ReturnValues="ALL_NEW"),
        ddb.update_item(TableName="t", Key=key, UpdateExpression="REMOVE #v", ExpressionAttributeNames={"#v": "v"},
                        ReturnValues="UPDATED_OLD", ReturnConsumedCapacity="INDEXES"),
        ddb.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": {**item, "sk": {"S": sk + "x"}}}},
                                                 {"DeleteRequest": {"Key": {"pk": {"S": "t1"}, "sk": {"S": "c00"}}}}]},
                             ReturnConsumedCapacity="TOTAL"),
        ddb.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {**item, "sk": {"S": sk + "y"}}}}],
                                 ReturnConsumedCapacity="TOTAL"),
        ddb.delete_item(TableName="t", Key=key, ReturnValues="ALL_OLD"),
        ddb.delete_item(TableName="t", Key=key),
    ]
    for extra in "xy":
        ddb.delete_item(TableName="t", Key={"pk": {"S": "t1"}, "sk": {"S": sk + extra}})
    return [{k: v for k, v in answer.items() if k != "ResponseMetadata"} for answer in calls]


def test_write_answers_parse_exactly_as_through_motos_serializer(ddb):
    unpatched, patched = unpatched_and_patched(ddb, writes)
    assert patched == unpatched
    assert patched[1]["Attributes"]["b"] == {"B": b"\x01"} and patched[2]["Attributes"]["v"] == {"SS": ["a", "b"]}


def test_errors_keep_motos_serializer(ddb):
    local_moto_answers.install()
    answer = ddb.put_item(TableName="t", Item={"pk": {"S": "t1"}, "sk": {"S": "c01"}}, ReturnValues="ALL_OLD")
    assert answer["Attributes"]["b"] == {"B": bytes([1, 0, 255])}
    with pytest.raises(ddb.exceptions.ResourceNotFoundException):
        ddb.query(TableName="missing", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "x"}})
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as cancelled:
        existing = {"pk": {"S": "t1"}, "sk": {"S": "c01"}}
        ddb.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": existing,
                                                         "ConditionExpression": "attribute_not_exists(pk)"}}])
    assert [r["Code"] for r in cancelled.value.response["CancellationReasons"]] == ["ConditionalCheckFailed"]


def test_answers_without_absent_values_are_not_walked_again(ddb, monkeypatch):
    local_moto_answers.install()
    walked = []
    walk = local_moto_answers._present
    monkeypatch.setattr(local_moto_answers, "_present", lambda value: walked.append(value) or walk(value))
    reads(ddb)
    writes(ddb)
    assert walked == []


def test_absent_values_are_left_out_also_beside_a_text_that_spells_null():
    answer = {"Count": 1, "LastEvaluatedKey": None, "Items": [{"s": {"S": "null"}, "gone": None}], "n": [None, 1]}
    assert local_moto_answers._dumped(answer) == '{"Count":1,"Items":[{"s":{"S":"null"}}],"n":[null,1]}'
    assert local_moto_answers._dumped({"Items": [{"s": {"S": "null"}}]}) == '{"Items":[{"s":{"S":"null"}}]}'


def test_answers_without_a_request_id_element_are_not_searched_for_one(ddb, monkeypatch):
    import moto.core.responses as core

    searched = []
    real = core.re.sub

    def sub(pattern, repl, string, *args, **kwargs):
        if "RequestId" in str(pattern):
            searched.append(string)
        return real(pattern, repl, string, *args, **kwargs)

    monkeypatch.setattr(core.re, "sub", sub)
    local_moto_answers.install()
    reads(ddb)
    writes(ddb)
    assert [body for body in searched if body] == []  # moto searched every answer, a Query page's whole JSON too


@pytest.mark.parametrize(
    "body", ["<R><RequestId>old</RequestId></R>", '{"Items": []}', "", "RequestId", b"<RequestId>x</RequestId>", None]
)
def test_answers_get_the_same_headers_and_body_as_from_moto(body):
    from moto.core.responses import BaseResponse
    from moto.moto_api._internal import mock_random

    enriched, own = [], BaseResponse._enrich_response
    for enrich in (own, local_moto_answers.make_enrich_response(own)):
        mock_random.seed(7)
        enriched.append(enrich({"status": 201, "x": "y"}, body))
    assert enriched[0] == enriched[1]
    assert len(enriched[1][0]["x-amzn-requestid"]) == 52
