"""The local stack's moto transactions: same outcome as moto's own, without copying whole tables."""

from __future__ import annotations

import copy

import pytest

from infra.local_moto_transactions import install, uninstall
from tests.unit.infra.conftest import create_pk_sk_table, outcome, table_state, unpatched_and_patched


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


def tx_put(table, pk, sk="x", condition=None, names=None, values=None, **extra):
    op = {"TableName": table, "Item": {"pk": {"S": pk}, "sk": {"S": sk}, **extra}}
    if condition:
        op["ConditionExpression"] = condition
    if names:
        op["ExpressionAttributeNames"] = names
    if values:
        op["ExpressionAttributeValues"] = values
    return {"Put": op}


def key(pk, sk="x"):
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def importer_scenario(client) -> list:
    """The importer's transactions (a contact put under a version condition, its unique keys claimed
    under attribute_not_exists), then every way a transaction fails, on a table with a stream."""
    create_pk_sk_table(client, "c", stream=True)
    create_pk_sk_table(client, "m")
    fields = {"M": {"email": {"S": "a@b.co"}, "tags": {"L": [{"S": "vip"}]}, "set": {"SS": ["x"]}}}
    new = "attribute_not_exists (#0)"
    contact = lambda pk, version="1", **kw: tx_put(  # noqa: E731
        "c", pk, condition=new if version == "1" else "#0 = :v", names={"#0": "version"},
        values=None if version == "1" else {":v": {"N": str(int(version) - 1)}}, fields=fields,
        version={"N": version}, **kw)
    claim = lambda value, owner: tx_put("m", value, "UNIQUE", new, {"#0": "pk"}, contact_id={"S": owner})  # noqa: E731
    calls = [
        [contact("c1"), claim("e1", "c1"), claim("p1", "c1")],
        [contact("c1"), claim("e1", "c1"), claim("p1", "c1")],  # all three conditions fail
        [contact("c2"), claim("e1", "c2")],  # the claim fails: c2 is not written, nor its record
        [{**contact("c3"), "Put": {**contact("c3")["Put"], "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
         {"Put": {**claim("e1", "c3")["Put"], "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}],
        [{"Update": {"TableName": "c", "Key": key("c1"), "UpdateExpression": "SET #f.#e = :e, #0 = :two",
                     "ConditionExpression": "#0 = :one",
                     "ExpressionAttributeNames": {"#f": "fields", "#e": "email", "#0": "version"},
                     "ExpressionAttributeValues": {":e": {"S": "new@b.co"}, ":one": {"N": "1"}, ":two": {"N": "2"}}}},
         {"Delete": {"TableName": "m", "Key": key("p1", "UNIQUE"), "ConditionExpression": "contact_id = :c",
                     "ExpressionAttributeValues": {":c": {"S": "c1"}}}},
         {"ConditionCheck": {"TableName": "m", "Key": key("e1", "UNIQUE"),
                             "ConditionExpression": "attribute_exists(pk)"}},
         claim("p2", "c1")],
        [{"Update": {"TableName": "c", "Key": key("c9"), "UpdateExpression": "SET v = :v",
                     "ExpressionAttributeValues": {":v": {"N": "9"}}}},  # creates c9 (two records) ...
         contact("c1", version="7")],  # ... and is undone: c1's version is 2
        [contact("c4"), contact("c4")],  # the same item twice
        [contact("c5"), tx_put("nope", "x")],  # no such table
        [contact("c6"), {"Put": {"TableName": "c", "Item": {"pk": {"S": "c6b"}}}}],  # no sort key
        [{"Delete": {"TableName": "c", "Key": key("c1")}}, contact("c2")],
    ]
    answers = [outcome(client.transact_write_items, TransactItems=call) for call in calls]
    return [answers, table_state(client, "c", "m")]


def test_transactions_answer_write_and_stream_exactly_as_motos_own(monkeypatch):
    unpatched, patched = unpatched_and_patched(importer_scenario, monkeypatch)
    assert patched == unpatched
    answers, state = unpatched
    assert [a.get("error") for a in answers] == [
        None, "TransactionCanceledException", "TransactionCanceledException", "TransactionCanceledException",
        None, "TransactionCanceledException", "ValidationException", "ResourceNotFoundException",
        "TransactionCanceledException", None,
    ]
    assert [r["Code"] for r in answers[2]["reasons"]] == ["None", "ConditionalCheckFailed"]
    assert answers[3]["reasons"][1]["Item"] == {"pk": {"S": "e1"}, "sk": {"S": "UNIQUE"}, "contact_id": {"S": "c1"}}
    assert [i["pk"]["S"] for i in state["c"]["items"]] == ["c2"]
    assert [i["pk"]["S"] for i in state["m"]["items"]] == ["e1", "p2"]


def test_a_transactions_puts_copy_no_item_and_look_each_up_twice(table, monkeypatch):
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table

    table.transact_write_items(TransactItems=[put("a", 1), put("b", 1)])
    copies, lookups = [], []
    real_copy, real_get = Item.__deepcopy__, Table.get_item
    monkeypatch.setattr(Item, "__deepcopy__", lambda self, memo: copies.append(self) or real_copy(self, memo))
    monkeypatch.setattr(Table, "get_item", lambda self, *a, **k: lookups.append(a) or real_get(self, *a, **k))
    table.transact_write_items(TransactItems=[put("a", 2, "attribute_exists(pk)"), put("b", 2), put("c", 2)])
    assert copies == []  # the replaced items are their own backups
    assert len(lookups) == 6  # the transaction's own look-up and put_item's, per item
    assert items(table) == {"a": 2, "b": 2, "c": 2}


def repeated_keys_scenario(client) -> list:
    create_pk_sk_table(client, "t", stream=True)
    create_pk_sk_table(client, "u")

    def put_on(table, pk, sk, **extra):
        return {"Put": {"TableName": table, "Item": {"pk": {"S": pk}, "sk": {"S": sk}, **extra}}}

    swapped = {"sk": {"S": "x"}, "pk": {"S": "a"}}  # the same key, its names in the other order
    transactions = [
        [put_on("t", "a", "x"), put_on("t", "a", "x", v={"N": "1"})],
        [put_on("t", "a", "x"), {"Delete": {"TableName": "t", "Key": swapped}}],
        [put_on("t", "a", "x"), put_on("t", "a", "y"), put_on("t", "ax", ""), put_on("u", "a", "x")],
        [{"ConditionCheck": {"TableName": "t", "Key": swapped, "ConditionExpression": "attribute_exists(pk)"}},
         {"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"S": "x"}}, "UpdateExpression": "SET v = :v",
                     "ExpressionAttributeValues": {":v": {"N": "2"}}}}],
        [put_on("t", "b", "x"), put_on("t", "b", "x ")],
    ]
    answers = [outcome(client.transact_write_items, TransactItems=items) for items in transactions]
    return [answers, table_state(client, "t", "u")]


def test_a_transaction_naming_a_key_twice_is_refused_exactly_as_by_moto_without_its_keys_written_out(monkeypatch):
    from infra import local_moto_transactions

    sorted_keys = []
    monkeypatch.setattr(local_moto_transactions, "sorted", lambda items: sorted_keys.append(items) or sorted(items),
                        raising=False)
    unpatched, patched = unpatched_and_patched(repeated_keys_scenario, monkeypatch)
    assert patched == unpatched
    assert sorted_keys == []  # plain keys compared as tuples: moto sorted and wrote out each as text
    assert [answer.get("error") for answer in unpatched[0]] == [
        "ValidationException", "ValidationException", "ValidationException", "ValidationException", None
    ]


@pytest.mark.parametrize(
    "first, second",
    [
        ({"pk": {"S": "a"}, "sk": {"S": "x"}}, {"sk": {"S": "x"}, "pk": {"S": "a"}}),
        ({"pk": {"S": "a"}, "sk": {"S": "x"}}, {"pk": {"S": "a"}, "sk": {"N": "x"}}),
        ({"pk": {"S": "a"}}, {"pk": {"S": "a"}, "sk": {"S": "x"}}),
        ({"pk": {"N": "1"}}, {"pk": {"N": 1}}),
        ({"pk": {"S": "a", "N": "1"}}, {"pk": {"S": "a"}}),
        ({"pk": {"B": b"a"}}, {"pk": {"B": b"a"}}),
        ({"pk": {"S": "a'b"}}, {"pk": {"S": 'a"b'}}),
    ],
)
def test_a_transaction_s_keys_are_told_apart_as_moto_tells_them(first, second):
    from infra.local_moto_transactions import _key_text

    def moto_text(key):
        return str(dict(sorted(key.items())))

    assert (_key_text(first) == _key_text(second)) == (moto_text(first) == moto_text(second))
    assert _key_text(first) == _key_text(dict(reversed(list(first.items()))))
