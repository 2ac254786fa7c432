"""The local stack's moto items: built with one size check, refused at the same size as moto's own."""

from __future__ import annotations

import threading

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra import local_moto_items, local_moto_puts


@pytest.fixture
def ddb(moto_dynamodb):
    client = moto_dynamodb
    client.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield client
    local_moto_items.uninstall()


def attempt(ddb, pk: str, filler: int, char: str = "x") -> str:
    """Put an item of about ``filler`` bytes (UTF-8) in ``char``s; moto's error message or "stored"."""
    big = char * (filler // len(char.encode()))
    item = {"pk": {"S": pk}, "m": {"M": {"a": {"N": "1"}, "l": {"L": [{"S": "x"}]}}}, "big": {"S": big}}
    try:
        ddb.put_item(TableName="t", Item=item)
    except ClientError as exc:
        return exc.response["Error"]["Message"]
    return "stored"


@pytest.mark.parametrize("char", ["x", "é", "\U0001d11e"])  # 1, 2 and 4 bytes: JSON's escapes are longer
@pytest.mark.parametrize("filler", [10, 300_000, 404_900, 404_980, 405_000, 410_000])
def test_items_are_stored_or_refused_exactly_as_moto_does(ddb, filler, char):
    unpatched = attempt(ddb, "a", filler, char)
    local_moto_items.install()
    assert attempt(ddb, "b", filler, char) == unpatched
    if unpatched == "stored":
        assert ddb.get_item(TableName="t", Key={"pk": {"S": "b"}})["Item"]["m"]["M"]["l"] == {"L": [{"S": "x"}]}


CLEF = "\U0001d11e"  # 4 bytes in UTF-8


def put_keys(ddb, table: str, pk: str, sk: str, gk: str) -> str:
    try:
        ddb.put_item(TableName=table, Item={"pk": {"S": pk}, "sk": {"N": sk}, "g": {"S": gk}, "v": {"S": "x"}})
    except ClientError as exc:
        return exc.response["Error"]["Message"]
    return "stored"


def test_key_sizes_are_refused_exactly_as_moto_does(moto_dynamodb):
    for table in ("unpatched", "patched"):
        moto_dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": kind} for name, kind in (("pk", "S"), ("sk", "N"), ("g", "S"))
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by_g",
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                    "KeySchema": [
                        {"AttributeName": "g", "KeyType": "HASH"},
                        {"AttributeName": "pk", "KeyType": "RANGE"},
                    ],
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    # pk is also the index's range key (1,024 bytes at most), g its hash key (2,048)
    cases = [
        ("a" * 1024, "1", "g" * 2048),
        ("a" * 1025, "1", "g"),
        ("é" * 512, "1", "é" * 1024),
        ("é" * 513, "1", "g"),
        ("a", "1" * 38, "g"),
        ("a", "1", "g" * 2049),
        ("a", "1", CLEF * 512),
        ("a", "1", CLEF * 513),
    ]
    unpatched = [put_keys(moto_dynamodb, "unpatched", *case) for case in cases]
    local_moto_puts.install()  # where the key sizes are measured
    local_moto_items.install()
    try:
        assert [put_keys(moto_dynamodb, "patched", *case) for case in cases] == unpatched
    finally:
        local_moto_items.uninstall()
        local_moto_puts.uninstall()
    assert [answer == "stored" for answer in unpatched] == [True, False, True, False, True, False, True, False]
    assert "hashkey" in unpatched[5] and "range keys" in unpatched[1]


def as_tree(value):
    """A moto value as plain nested tuples: type, then the value (members as trees)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if isinstance(value, DynamoType):
        return ("DynamoType", value.type, as_tree(value.value))
    if isinstance(value, dict):
        return {k: as_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_tree(v) for v in value]
    return value


ODD_VALUES = [
    {"S": "x"},
    {"N": "1.5"},
    {"BOOL": True},
    {"NULL": True},
    {"B": b"\x00"},
    {"SS": ["a", "b"]},
    {"NS": ["1"]},
    {"BS": [b"\x01"]},
    {"L": []},
    {"M": {}},
    {"L": [{"S": "a"}, {"M": {"k": {"L": [{"N": "1"}]}}}]},
    {"M": {"a": {"S": "b"}, "c": {"SS": ["d"]}}},
    {"S": "x", "N": "1"},
    {"L": "abc"},
    {"M": [{"S": "a"}]},
    {"L": [{"S": "a", "N": "2"}]},
    {},
    "text",
    {"M": {"k": "v"}},
]


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_values_are_built_as_moto_builds_them(value):
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        expected = as_tree(DynamoType(value))
    except Exception as exc:  # noqa: BLE001 - the same error is expected
        with pytest.raises(type(exc)):
            local_moto_items.make_typed_value()(value)
        return
    built = local_moto_items.make_typed_value()(value)
    assert as_tree(built) == expected
    assert built == DynamoType(value)


def test_an_odd_value_built_on_another_server_thread_marks_only_that_thread_s_item():
    """The server builds two requests' items at once: one thread's binary value must not mark (or
    unmark) the item another thread is building, whose stream image depends on the mark."""
    flags = threading.local()
    typed_value = local_moto_items.make_typed_value(flags)
    flags.seen = False
    seen_there: list[bool] = []

    def other_request() -> None:
        flags.seen = False
        typed_value({"B": "aGk="})  # binary text: its stream image is moto's (decoded)
        seen_there.append(flags.seen)

    worker = threading.Thread(target=other_request)
    worker.start()
    worker.join()
    typed_value({"S": "plain"})
    assert seen_there == [True]
    assert flags.seen is False


def test_an_item_s_nested_values_are_not_built_through_dynamo_type(ddb, monkeypatch):
    from moto.dynamodb.models.dynamo_type import DynamoType

    built = []
    real = DynamoType.__init__
    monkeypatch.setattr(DynamoType, "__init__", lambda self, value: built.append(value) or real(self, value))
    fields = {"M": {f"f{i}": {"L": [{"S": str(i)}, {"N": str(i)}]} for i in range(20)}}
    local_moto_items.install()
    ddb.put_item(TableName="t", Item={"pk": {"S": "a"}, "fields": fields})
    assert len(built) < 5  # the key values moto looks up by, not the item's 60 values
    assert ddb.get_item(TableName="t", Key={"pk": {"S": "a"}})["Item"]["fields"] == fields


KEYS = [
    {"S": "a"},
    {"S": "b"},
    {"S": "1"},
    {"N": "1"},
    {"N": "1.0"},
    {"B": b"a"},
    {"B": "YQ=="},
    {"BOOL": True},
    {"BOOL": False},
    {"NULL": True},
    {"S": ""},
]


def test_values_hash_and_compare_as_moto_s_own():
    from moto.dynamodb.models.dynamo_type import DynamoType

    def judged():
        values = [DynamoType(k) for k in KEYS]
        return [hash(v) for v in values], [[a == b for b in values] for a in values]

    unpatched = judged()
    local_moto_items.install()
    try:
        assert judged() == unpatched
    finally:
        local_moto_items.uninstall()
    assert unpatched[1][3][4]  # numbers by value: 1 == 1.0


# ---- items stored as their requests' attributes, built when first read (LazyItem) ----------------------

LAZY_ITEMS = [
    {
        "pk": {"S": "p"},
        "sk": {"S": "a"},
        "g": {"S": "g1"},
        "h": {"S": "x"},
        "n": {"N": "7"},
        "ok": {"BOOL": True},
        "none": {"NULL": True},
        "tags": {"SS": ["b", "a"]},
        "nums": {"NS": ["1", "2"]},
    },
    {
        "pk": {"S": "p"},
        "sk": {"S": "b"},
        "g": {"S": "g1"},
        "h": {"S": "y"},
        "fields": {
            "M": {
                "email": {"S": "a@b.c"},
                "score": {"N": "3"},
                "l": {"L": [{"S": "x"}, {"M": {"k": {"N": "1"}}}]},
                "empty": {"M": {}},
                "e": {"L": []},
            }
        },
    },
    {"pk": {"S": "p"}, "sk": {"S": "c"}, "g": {"S": "g2"}, "list": {"L": [{"L": [{"N": "1.5"}]}, {"BOOL": False}]}},
    # binary values: built at once, as moto builds them
    {
        "pk": {"S": "p"},
        "sk": {"S": "d"},
        "g": {"S": "g2"},
        "bin": {"B": b"\x00\x01"},
        "l": {"L": [{"B": b"x"}]},
        "bs": {"BS": [b"a"]},
        "m": {"M": {"b": {"B": b"y"}}},
    },
    # a list member of two types: moto's DynamoType builds it (from its first), at once
    {"pk": {"S": "p"}, "sk": {"S": "e"}, "g": {"S": "g2"}, "odd": {"L": [{"S": "a", "N": "1"}]}},
]


def read_update_and_stream(client) -> list:
    """Items put by BatchWriteItem then read, overwritten, updated, conditioned on, rolled back and
    deleted: every answer, then the stored items and stream records."""
    from tests.unit.infra.conftest import create_pk_sk_table, outcome, table_state

    create_pk_sk_table(client, stream=True, index=("by_g", "g", "h"))
    key = {"pk": {"S": "p"}, "sk": {"S": "b"}}
    answers = [
        outcome(client.batch_write_item, RequestItems={"t": [{"PutRequest": {"Item": i}} for i in LAZY_ITEMS]}),
        outcome(client.get_item, TableName="t", Key=key),
        outcome(
            client.get_item,
            TableName="t",
            Key=key,
            ProjectionExpression="#f.l[1], h",
            ExpressionAttributeNames={"#f": "fields"},
        ),
        outcome(
            client.query,
            TableName="t",
            IndexName="by_g",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "g1"}},
        ),
        outcome(
            client.query,
            TableName="t",
            KeyConditionExpression="pk = :p",
            FilterExpression="#f.score > :s",
            ExpressionAttributeNames={"#f": "fields"},
            ExpressionAttributeValues={":p": {"S": "p"}, ":s": {"N": "2"}},
        ),
        outcome(client.put_item, TableName="t", Item={**LAZY_ITEMS[0], "n": {"N": "8"}}, ReturnValues="ALL_OLD"),
        outcome(
            client.update_item,
            TableName="t",
            Key=key,
            UpdateExpression="SET #f.score = :s ADD n :one",
            ExpressionAttributeNames={"#f": "fields"},
            ExpressionAttributeValues={":s": {"N": "4"}, ":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        ),
        outcome(
            client.put_item,
            TableName="t",
            Item=LAZY_ITEMS[2],
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        ),
        outcome(
            client.transact_write_items,
            TransactItems=[
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"pk": {"S": "p"}, "sk": {"S": "c"}},
                        "UpdateExpression": "SET h = :h",
                        "ExpressionAttributeValues": {":h": {"S": "z"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": "t",
                        "Key": {"pk": {"S": "p"}, "sk": {"S": "d"}},
                        "ConditionExpression": "attribute_not_exists(bin)",
                    }
                },
            ],
        ),
        outcome(client.delete_item, TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "d"}}, ReturnValues="ALL_OLD"),
        outcome(
            client.scan,
            TableName="t",
            FilterExpression="contains(tags, :a)",
            ExpressionAttributeValues={":a": {"S": "a"}},
        ),
    ]
    return [answers, table_state(client, "t")]


def test_items_stored_as_their_requests_read_update_and_stream_exactly_as_moto_s(monkeypatch):
    from tests.unit.infra.conftest import unpatched_and_patched

    unpatched, patched = unpatched_and_patched(read_update_and_stream, monkeypatch)
    assert patched == unpatched


def stored(client, sk: str):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables["t"]
    return next(item for item in table.all_items() if item.__dict__["range_key"].value == sk)


def test_plain_puts_store_no_moto_values_until_an_item_is_read(monkeypatch):
    from moto.dynamodb.models.dynamo_type import Item

    from infra.local_moto import install_patches, uninstall_patches
    from tests.unit.infra.conftest import create_pk_sk_table

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        install_patches()
        try:
            client = boto3.client("dynamodb", region_name="us-east-1")
            create_pk_sk_table(client, stream=True, index=("by_g", "g", "h"))
            client.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": i}} for i in LAZY_ITEMS]})
            lazily = {sk: "attrs" not in stored(client, sk).__dict__ for sk in "abcde"}
            assert lazily == {"a": True, "b": True, "c": True, "d": False, "e": False}
            assert all(
                isinstance(stored(client, sk), Item) and stored(client, sk) in Item.instances_tracked for sk in "abcde"
            )
            client.get_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "b"}})
            item = stored(client, "b")
            assert "attrs" in item.__dict__ and "_request_attrs" not in item.__dict__  # built once, then kept
            assert item.attrs["fields"].value["l"].value[1].value["k"].value == "1"
        finally:
            uninstall_patches()


@pytest.mark.parametrize("filler", [10, 300_000, 404_900, 405_000, 410_000])
def test_items_stored_as_their_requests_are_refused_at_moto_s_size(filler, monkeypatch):
    """A body over the limit (two items in one BatchWriteItem, or one large PutItem) cannot bound an
    item's size: each is judged as moto judges it."""
    from tests.unit.infra.conftest import create_pk_sk_table, outcome, table_state, unpatched_and_patched

    def scenario(client):
        create_pk_sk_table(client)
        big = {"S": "é" * (filler // 2)}
        small = {"pk": {"S": "p"}, "sk": {"S": "s"}, "v": {"S": "x" * 300_000}}
        return [
            outcome(
                client.batch_write_item,
                RequestItems={
                    "t": [
                        {"PutRequest": {"Item": {"pk": {"S": "p"}, "sk": {"S": "b"}, "big": big}}},
                        {"PutRequest": {"Item": small}},
                    ]
                },
            ),
            outcome(client.put_item, TableName="t", Item={"pk": {"S": "p"}, "sk": {"S": "c"}, "big": big}),
            table_state(client, "t"),
        ]

    unpatched, patched = unpatched_and_patched(scenario, monkeypatch)
    assert patched == unpatched


def pages_of_stored_items(client) -> list:
    """Items of ~40 KB (and small ones of every plain kind) put by BatchWriteItem, then read by Query
    pages (moto cuts a page at 1 MB by its measure of each item), by a limited and a descending Query,
    a Query counting, an index Query and a Scan: every answer."""
    from tests.unit.infra.conftest import create_pk_sk_table, outcome

    create_pk_sk_table(client, index=("by_g", "g", "h"))
    big = [
        {
            "pk": {"S": "q"},
            "sk": {"S": f"b{n:03d}"},
            "g": {"S": "g"},
            "h": {"S": f"{n}"},
            "v": {"S": "é" * 20_000},
            "m": {"M": {"n": {"N": str(n)}, "l": {"L": [{"S": "ab"}, {"NULL": True}]}, "s": {"SS": ["x", "yz"]}}},
        }
        for n in range(30)
    ]
    for start in range(0, len(big), 5):
        client.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": i}} for i in big[start : start + 5]]})
    client.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": {**i, "pk": {"S": "r"}}}} for i in LAZY_ITEMS]})
    pages, start = [], None
    while True:
        extra = {"ExclusiveStartKey": start} if start else {}
        page = outcome(
            client.query,
            TableName="t",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "q"}},
            **extra,
        )
        pages.append(page)
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    return [
        pages,
        outcome(
            client.query,
            TableName="t",
            KeyConditionExpression="pk = :p",
            Limit=3,
            ScanIndexForward=False,
            ExpressionAttributeValues={":p": {"S": "r"}},
        ),
        outcome(
            client.query,
            TableName="t",
            KeyConditionExpression="pk = :p",
            Select="COUNT",
            ExpressionAttributeValues={":p": {"S": "q"}},
        ),
        outcome(
            client.query,
            TableName="t",
            IndexName="by_g",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "g2"}},
        ),
        outcome(client.scan, TableName="t", Limit=7),
    ]


def test_query_pages_of_items_stored_as_their_requests_are_moto_s(monkeypatch):
    from tests.unit.infra.conftest import unpatched_and_patched

    unpatched, patched = unpatched_and_patched(pages_of_stored_items, monkeypatch)
    assert len(unpatched[0]) > 1  # the 1 MB cut was made
    assert patched == unpatched


@pytest.fixture
def patched_client(monkeypatch):
    """A DynamoDB client on in-process moto with the local stack's patches and an empty table ``t``."""
    from infra.local_moto import install_patches, uninstall_patches
    from tests.unit.infra.conftest import create_pk_sk_table

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        install_patches()
        try:
            client = boto3.client("dynamodb", region_name="us-east-1")
            create_pk_sk_table(client)
            yield client
        finally:
            uninstall_patches()


def test_a_query_answers_items_stored_as_their_requests_without_building_them(patched_client):
    client = patched_client
    client.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": i}} for i in LAZY_ITEMS[:3]]})
    answer = client.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}})
    assert [item["sk"]["S"] for item in answer["Items"]] == ["a", "b", "c"]
    assert all("attrs" not in stored(client, sk).__dict__ for sk in "abc")  # measured and answered unbuilt


def gets_of_stored_items(client) -> list:
    """Items put by BatchWriteItem, then read by GetItem, BatchGetItem (whole, by AttributesToGet, by
    a projection) and TransactGetItems: every answer, then the same reads again."""
    from tests.unit.infra.conftest import create_pk_sk_table, outcome

    create_pk_sk_table(client)
    client.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": i}} for i in LAZY_ITEMS]})
    keys = [{"pk": i["pk"], "sk": i["sk"]} for i in LAZY_ITEMS] + [{"pk": {"S": "p"}, "sk": {"S": "none"}}]

    def reads() -> list:
        return [
            [outcome(client.get_item, TableName="t", Key=key) for key in keys],
            outcome(client.batch_get_item, RequestItems={"t": {"Keys": keys}}),
            outcome(
                client.batch_get_item, RequestItems={"t": {"Keys": keys, "AttributesToGet": ["sk", "fields", "n"]}}
            ),
            outcome(
                client.batch_get_item,
                RequestItems={
                    "t": {
                        "Keys": keys,
                        "ProjectionExpression": "sk, #f.l",
                        "ExpressionAttributeNames": {"#f": "fields"},
                    }
                },
            ),
            outcome(client.transact_get_items, TransactItems=[{"Get": {"TableName": "t", "Key": key}} for key in keys]),
        ]

    return [reads(), reads()]


def test_gets_of_items_stored_as_their_requests_are_moto_s(monkeypatch):
    from tests.unit.infra.conftest import unpatched_and_patched

    unpatched, patched = unpatched_and_patched(gets_of_stored_items, monkeypatch)
    assert patched == unpatched


def test_gets_answer_items_stored_as_their_requests_without_building_them(patched_client):
    client = patched_client
    client.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": i}} for i in LAZY_ITEMS[:3]]})
    keys = [{"pk": i["pk"], "sk": i["sk"]} for i in LAZY_ITEMS[:3]]
    client.get_item(TableName="t", Key=keys[0])
    answer = client.batch_get_item(RequestItems={"t": {"Keys": keys, "AttributesToGet": ["sk"]}})
    assert sorted(item["sk"]["S"] for item in answer["Responses"]["t"]) == ["a", "b", "c"]
    client.transact_get_items(TransactItems=[{"Get": {"TableName": "t", "Key": keys[1]}}])
    assert all("attrs" not in stored(client, sk).__dict__ for sk in "abc")


def test_reads_hand_on_the_attributes_of_items_stored_as_their_requests_without_copying_them(
    patched_client, monkeypatch
):
    from infra import local_moto_answers

    client = patched_client
    client.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": i}} for i in LAZY_ITEMS[:3]]})
    answered = []
    dumped = local_moto_answers._dumped
    monkeypatch.setattr(local_moto_answers, "_dumped", lambda result: answered.append(result) or dumped(result))
    client.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}})
    client.get_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "b"}})
    client.batch_get_item(RequestItems={"t": {"Keys": [{"pk": {"S": "p"}, "sk": {"S": "c"}}]}})
    page, got, batch = answered
    kept = {sk: stored(client, sk).__dict__["_request_attrs"] for sk in "abc"}
    # the answers hold the stored attributes' own values (moto's walk copied each into an equal value)
    assert page["Items"] == [kept[sk] for sk in "abc"]
    assert all(item["sk"] is kept[sk]["sk"] for item, sk in zip(page["Items"], "abc", strict=True))
    assert got["Item"]["sk"] is kept["b"]["sk"] and batch["Responses"]["t"][0]["sk"] is kept["c"]["sk"]


def test_look_ups_by_key_build_their_key_values_directly(patched_client, monkeypatch):
    from moto.dynamodb.models.dynamo_type import DynamoType

    client = patched_client
    client.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": i}} for i in LAZY_ITEMS[:3]]})
    built = []
    real = DynamoType.__init__
    monkeypatch.setattr(DynamoType, "__init__", lambda self, value: built.append(value) or real(self, value))
    key = {"pk": {"S": "p"}, "sk": {"S": "a"}}
    assert client.get_item(TableName="t", Key=key)["Item"]["h"] == {"S": "x"}
    check = {"TableName": "t", "Key": key, "ConditionExpression": "attribute_exists(pk)"}
    client.transact_write_items(TransactItems=[{"ConditionCheck": check}])
    client.delete_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "c"}})
    assert built == []  # moto's DynamoType built both key values of each look-up
    assert [i["sk"]["S"] for i in client.scan(TableName="t")["Items"]] == ["a", "b"]
