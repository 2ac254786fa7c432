"""The local stack's moto BatchWriteItem: the same checks, writes and answers as moto's own handler,
without a JSON dump of every item."""

from __future__ import annotations

import pytest

from infra import local_moto_batches
from tests.unit.infra.conftest import create_pk_sk_table, outcome, table_state, unpatched_and_patched


def contact(pk: str, sk: str, **extra) -> dict:
    return {
        "pk": {"S": pk},
        "sk": {"S": sk},
        "fields": {"M": {"email": {"S": f"{sk}@x.co"}, "n": {"N": "1"}}},
        "tags": {"L": [{"S": "vip"}]},
        **extra,
    }


def batch_scenario(client) -> list:
    create_pk_sk_table(client, "t", stream=True)
    create_pk_sk_table(client, "u")
    put = lambda item: {"PutRequest": {"Item": item}}  # noqa: E731
    requests = [
        {"t": [put(contact("a", f"c{i}")) for i in range(25)]},
        {"t": [put(contact("a", "c1")), put(contact("a", "c1"))]},  # the same item twice: refused
        {"t": [put(contact("a", "c2")), put(contact("a", "c2", v={"N": "2"}))]},  # same key, other item: written
        {
            "t": [
                put(contact("a", "c3")),
                {"DeleteRequest": {"Key": {"pk": {"S": "a"}, "sk": {"S": "c4"}}}},
                {"DeleteRequest": {"Key": {"pk": {"S": "a"}, "sk": {"S": "c4"}}}},
            ]
        },  # a repeated delete
        {"t": [put({"pk": {"S": "a"}, "sk": {"S": ""}})]},  # an empty key value
        {"t": [put({"pk": {"S": "a"}})]},  # no sort key
        {"nope": [put(contact("a", "c5"))]},  # no such table
        {"t": [put(contact("b", "c6"))], "u": [put(contact("b", "c6"))]},  # two tables: moto's own handler
        {"t": [put(contact("a", "c7")), {"DeleteRequest": {"Key": {"pk": {"S": "a"}, "sk": {"S": "c0"}}}}]},
    ]
    answers = [outcome(client.batch_write_item, RequestItems=request) for request in requests]
    return [answers, table_state(client, "t", "u")]


def test_batches_are_answered_and_written_exactly_as_by_moto(monkeypatch):
    unpatched, patched = unpatched_and_patched(batch_scenario, monkeypatch)
    assert patched == unpatched
    answers = unpatched[0]
    assert answers[0] == {
        "ConsumedCapacity": [{"TableName": "t", "CapacityUnits": 1.0, "Table": {"CapacityUnits": 1.0}}],
        "ItemCollectionMetrics": {},
        "UnprocessedItems": {},
    }
    assert answers[1]["message"] == "Provided list of item keys contains duplicates"
    assert "error" not in answers[2] and answers[3]["error"] == "ValidationException"
    assert [a.get("error") for a in answers[4:7]] == ["ValidationException"] * 2 + ["ResourceNotFoundException"]


@pytest.fixture
def ddb(moto_dynamodb):
    create_pk_sk_table(moto_dynamodb)
    yield moto_dynamodb
    local_moto_batches.uninstall()


def test_a_batch_of_distinct_keys_dumps_none_of_its_items(ddb, monkeypatch):
    import moto.dynamodb.responses as responses

    dumped = []
    real = responses.dynamo_json_dump
    monkeypatch.setattr(responses, "dynamo_json_dump", lambda value: dumped.append(value) or real(value))
    local_moto_batches.install()
    ddb.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": contact("a", f"c{i}")}} for i in range(25)]})
    assert dumped == []
    with pytest.raises(ddb.exceptions.ClientError, match="contains duplicates"):  # a repeat is still found
        ddb.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": contact("a", "x")}}] * 2})
    assert len(dumped) == 2
    assert ddb.scan(TableName="t")["Count"] == 25


def test_a_batch_finds_its_table_once_not_per_put(ddb, monkeypatch):
    from moto.dynamodb.models import DynamoDBBackend

    found = []
    real = DynamoDBBackend.get_table
    monkeypatch.setattr(DynamoDBBackend, "get_table", lambda self, name: found.append(name) or real(self, name))
    local_moto_batches.install()
    ddb.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": contact("a", f"c{i}")}} for i in range(25)]})
    assert found == ["t"]  # moto's backend.put_item looked it up again for each of the 25 puts
    assert ddb.scan(TableName="t")["Count"] == 25
