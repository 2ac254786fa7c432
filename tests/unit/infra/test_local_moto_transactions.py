"""The local stack's moto transactions: same outcome as moto's own, without copying whole tables."""

from __future__ import annotations

import copy

import pytest

from infra.local_moto_transactions import install, uninstall
from tests.unit.infra.conftest import create_pk_sk_table


@pytest.fixture
def table(moto_dynamodb):
    install()
    ddb = moto_dynamodb
    create_pk_sk_table(ddb, stream=True)
    yield ddb
    uninstall()


def put(pk, value, condition=None):
    op = {"TableName": "t", "Item": {"pk": {"S": pk}, "sk": {"S": "x"}, "v": {"N": str(value)}}}
    if condition:
        op["ConditionExpression"] = condition
    return {"Put": op}


def items(ddb):
    return {i["pk"]["S"]: int(i["v"]["N"]) for i in ddb.scan(TableName="t")["Items"]}


def stream_records():
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables["t"].stream_shard.items


def test_a_cancelled_transaction_leaves_items_and_stream_as_they_were(table, monkeypatch):
    table.transact_write_items(TransactItems=[put("a", 1), put("b", 1)])
    copied_tables = []
    real_deepcopy = copy.deepcopy

    def watching(value, memo=None):
        if type(value).__name__ == "Table":
            copied_tables.append(value)
        return real_deepcopy(value, memo)

    monkeypatch.setattr(copy, "deepcopy", watching)
    with pytest.raises(table.exceptions.TransactionCanceledException) as cancelled:
        table.transact_write_items(
            TransactItems=[
                put("a", 2),  # applied by moto, then rolled back
                put("c", 2),  # created by moto, then removed again
                put("b", 2, "attribute_not_exists(pk)"),  # fails
            ]
        )
    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed"]
    assert items(table) == {"a": 1, "b": 1}
    # the two inserts of the first call only
    assert [r.record["eventName"] for r in stream_records()] == ["INSERT", "INSERT"]
    table.transact_write_items(TransactItems=[put("a", 3), put("c", 3, "attribute_not_exists(pk)")])
    assert items(table) == {"a": 3, "b": 1, "c": 3}
    assert copied_tables == []  # never a whole table


def test_conditions_parsed_once_still_judge_each_item_and_update_expressions_work(table):
    table.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"S": "x"}, "v": {"N": "1"}})
    for pk, expected in (("a", False), ("n", True), ("a", False)):
        try:
            table.put_item(TableName="t", Item={"pk": {"S": pk}, "sk": {"S": "x"}, "v": {"N": "5"}},
                           ConditionExpression="attribute_not_exists(pk)")  # fmt: skip
            written = True
        except table.exceptions.ConditionalCheckFailedException:
            written = False
        assert written is expected
    for _ in range(2):
        table.update_item(
            TableName="t",
            Key={"pk": {"S": "a"}, "sk": {"S": "x"}},
            UpdateExpression="SET v = v + :one",
            ConditionExpression="v < :ten",
            ExpressionAttributeValues={":one": {"N": "1"}, ":ten": {"N": "10"}},
        )
    assert items(table) == {"a": 3, "n": 5}
