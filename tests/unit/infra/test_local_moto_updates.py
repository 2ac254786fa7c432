"""The local stack's moto updates: plain SET assignments applied directly, with moto's own outcome."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from infra import local_moto_updates
from infra.local_moto_updates import plain_assignments

BIG = "x" * 300_000


@pytest.fixture
def ddb(moto_dynamodb):
    for name in ("unpatched", "patched"):
        moto_dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "g")],
            GlobalSecondaryIndexes=[{"IndexName": "by_g", "Projection": {"ProjectionType": "ALL"},
                                     "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
    yield moto_dynamodb
    local_moto_updates.uninstall()


def key(pk):
    return {"pk": {"S": pk}, "sk": {"S": "s"}}


def updates(table):
    """Single updates: (key, expression, names, values, extra arguments)."""
    claim = "attribute_not_exists(#0) OR #0 <= :1"
    return [
        ("a", "SET #0 = :0", {"#0": "seen"}, {":0": {"S": "2026-01-02"}, ":1": {"S": "2026-01-02"}},
         {"ConditionExpression": claim}),  # creates the item
        ("a", "SET #0 = :0", {"#0": "seen"}, {":0": {"S": "2026-01-03"}, ":1": {"S": "2026-01-03"}},
         {"ConditionExpression": claim, "ReturnValues": "UPDATED_OLD"}),
        ("a", "SET #0 = :0", {"#0": "seen"}, {":0": {"S": "2026-01-01"}, ":1": {"S": "2026-01-01"}},
         {"ConditionExpression": claim, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}),  # stale: refused
        ("b", "SET #n = :n,  #s=:s , #f = :f, #e = :e", {"#n": "n", "#s": "s", "#f": "f", "#e": "e"},
         {":n": {"N": "12.5"}, ":s": {"S": "x"}, ":f": {"BOOL": False}, ":e": {"S": ""}}, {"ReturnValues": "ALL_NEW"}),
        ("b", "SET #0 = :0", {"#0": "pk"}, {":0": {"S": "other"}}, {}),  # a key attribute
        ("b", "SET #0 = :0", {"#0": "g"}, {":0": {"S": ""}}, {}),  # an index key, empty
        ("b", "SET #0 = :0", {"#0": "g"}, {":0": {"N": "1"}}, {}),  # an index key, wrong type
        ("b", "SET #0 = :0, #1 = :1", {"#0": "v", "#1": "v"}, {":0": {"S": "1"}, ":1": {"S": "2"}}, {}),  # overlap
        ("b", "SET #0 = :0", {"#0": "v"}, {":1": {"S": "1"}}, {}),  # value not defined
        ("b", "SET #0 = :0", {"#0": "big"}, {":0": {"S": BIG}}, {}),
        ("b", "SET #0 = :0", {"#0": "big2"}, {":0": {"S": BIG}}, {}),  # too large now
        ("b", "SET #0 = :0 + :1", {"#0": "total"}, {":0": {"N": "1"}, ":1": {"N": "2"}}, {}),  # not plain
        ("c", "SET #0 = :0", {"#0": "m"}, {":0": {"M": {"x": {"S": "y"}}}}, {}),  # not scalar
    ]


def run(ddb, table):
    answers = []
    for pk, expression, names, values, extra in updates(table):
        try:
            answer = ddb.update_item(TableName=table, Key=key(pk), UpdateExpression=expression,
                                     ExpressionAttributeNames=names, ExpressionAttributeValues=values, **extra)
            answers.append(answer.get("Attributes"))
        except ClientError as exc:
            answers.append((exc.response["Error"]["Code"], exc.response["Error"]["Message"], exc.response.get("Item")))
    claims = [{"Update": {"TableName": table, "Key": key(pk), "UpdateExpression": "SET #0 = :0",
                          "ConditionExpression": "attribute_not_exists(#0) OR #0 <= :0",
                          "ExpressionAttributeNames": {"#0": "seen"}, "ExpressionAttributeValues": {":0": {"S": at}}}}
              for pk, at in (("t1", "2026-02-01"), ("t2", "2026-02-01"))]
    ddb.transact_write_items(TransactItems=claims)
    stale = [claims[0], {"Update": {**claims[1]["Update"], "ExpressionAttributeValues": {":0": {"S": "2020-01-01"}}}}]
    try:
        ddb.transact_write_items(TransactItems=stale)
    except ClientError as exc:
        answers.append([r["Code"] for r in exc.response["CancellationReasons"]])
    items = sorted(ddb.scan(TableName=table)["Items"], key=lambda i: i["pk"]["S"])
    return answers, items, stream(table)


def stream(table):
    """The table's stream records (their sizes count sequence numbers and times, which differ by table)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    shard = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[table].stream_shard
    return [{k: r.record["dynamodb"].get(k) for k in ("Keys", "NewImage", "OldImage")}
            | {"eventName": r.record["eventName"]} for r in shard.items]


def test_plain_set_updates_answer_store_and_stream_exactly_as_moto_does(ddb):
    unpatched = run(ddb, "unpatched")
    local_moto_updates.install()
    patched = run(ddb, "patched")
    assert patched == unpatched
    answers, items, records = patched
    assert answers[0] is None and answers[1] == {"seen": {"S": "2026-01-02"}}
    assert answers[2][0] == "ConditionalCheckFailedException" and answers[2][2]["seen"] == {"S": "2026-01-03"}
    assert [answers[i][0] for i in (4, 7, 8, 10)] == ["ValidationException"] * 4  # key, overlap, undefined, size
    assert answers[-1] == ["None", "ConditionalCheckFailed"]
    assert {i["pk"]["S"] for i in items} == {"a", "b", "c", "t1", "t2"}
    assert len(records) > 10


@pytest.mark.parametrize(
    ("expression", "names", "values", "plain"),
    [
        ("SET #0 = :0", {"#0": "a"}, {":0": {"S": "x"}}, [("a", {"S": "x"})]),
        ("SET #0 = :0, #1 = :1", {"#0": "a", "#1": "b"}, {":0": {"N": "1"}, ":1": {"BOOL": True}},
         [("a", {"N": "1"}), ("b", {"BOOL": True})]),
        ("set #0 = :0", {"#0": "a"}, {":0": {"S": "x"}}, None),
        ("SET a = :0", {}, {":0": {"S": "x"}}, None),
        ("SET #0 = :0 REMOVE #1", {"#0": "a", "#1": "b"}, {":0": {"S": "x"}}, None),
        ("SET #0 = if_not_exists(#0, :0)", {"#0": "a"}, {":0": {"S": "x"}}, None),
        ("SET #0 = :0", {"#0": "a"}, {":0": {"SS": ["x"]}}, None),
        ("SET #0 = :0", {"#0": "a"}, {":0": {"N": ""}}, None),
        ("SET #0 = :0", {}, {":0": {"S": "x"}}, None),
        ("SET #0 = :0", None, {":0": {"S": "x"}}, None),
    ],
)
def test_only_plain_assignments_of_defined_scalars_take_the_direct_way(expression, names, values, plain):
    assert plain_assignments(expression, names, values) == plain


def shape(node):
    """A parse tree as nested tuples: node types and leaf values."""
    children = getattr(node, "children", None)
    if children is None:
        return repr(node) if not hasattr(node, "type") else (node.type,)
    return (node.type, tuple(shape(child) for child in children))


def test_a_parsed_update_expression_is_shared_unchanged_and_bad_ones_still_fail(ddb):
    from moto.dynamodb.exceptions import MockValidationException
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    local_moto_updates.install()
    expression = "SET #0 = :0 + :1 REMOVE #2"  # not plain: moto's validator and executor take it
    tree = UpdateExpressionParser.make(expression)
    before = shape(tree)
    for total in ("3", "5"):
        ddb.update_item(TableName="patched", Key=key("x"), UpdateExpression=expression,
                        ExpressionAttributeNames={"#0": "total", "#2": "gone"},
                        ExpressionAttributeValues={":0": {"N": "1"}, ":1": {"N": str(int(total) - 1)}})
        assert ddb.get_item(TableName="patched", Key=key("x"))["Item"]["total"] == {"N": total}
    assert UpdateExpressionParser.make(expression) is tree and shape(tree) == before
    for _ in range(2):
        with pytest.raises(MockValidationException):
            UpdateExpressionParser.make("SET #0 = = :0")
    local_moto_updates.uninstall()
    assert isinstance(vars(UpdateExpressionParser)["make"], classmethod)  # given back as it was
