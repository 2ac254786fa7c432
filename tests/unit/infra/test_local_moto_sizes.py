"""The local stack's moto sizes: Query and Scan pages cut at 1 MB exactly where moto cuts them, each item
measured once per request."""

from __future__ import annotations

import random

import pytest

from infra.local_moto_sizes import install, make_item_size, uninstall
from tests.unit.infra.conftest import create_pk_sk_table, outcome, unpatched_and_patched


def _contacts_table(client) -> None:
    create_pk_sk_table(client, "contacts", stream=True, index=("changed", "gpk", "gsk"))


def _contact(rng: random.Random, tenant: str, n: int) -> dict:
    """A demo-like contact, some of them large (tens of KB), so that a partition crosses 1 MB."""
    big = rng.random() < 0.3
    fields = {
        f"f{i}": rng.choice(
            [
                {"S": "é" * rng.randint(0, 40)},
                {"N": str(rng.randint(-9999, 99999))},
                {"BOOL": rng.random() < 0.5},
                {"NULL": True},
            ]
        )
        for i in range(rng.randint(0, 8))
    }
    item = {
        "pk": {"S": tenant},
        "sk": {"S": f"c{n:05d}"},
        "gpk": {"S": f"{tenant}#changed"},
        "gsk": {"S": f"2026-01-{rng.randint(1, 28):02d}#{n:05d}"},
        "email": {"S": f"user{n}@example.com"},
        "score": {"N": str(rng.randint(0, 100))},
        "fields": {"M": fields},
        "notes": {"S": "x" * (rng.randint(20_000, 60_000) if big else rng.randint(0, 900))},
        "tags": {"L": [{"S": "t" * rng.randint(0, 9)}, {"N": "1.5"}, {"M": {"k": {"S": "v"}}}]},
    }
    if rng.random() < 0.2:
        item["labels"] = {"SS": sorted({f"l{rng.randint(0, 50)}" for _ in range(3)})}
    if rng.random() < 0.1:
        item["blob"] = {"B": bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))}
    return item


def _load(client, seed: int) -> None:
    rng = random.Random(seed)
    _contacts_table(client)
    items = [_contact(rng, tenant, n) for tenant in ("t1", "t2") for n in range(rng.randint(120, 160))]
    rng.shuffle(items)
    for first in range(0, len(items), 25):
        client.batch_write_item(
            RequestItems={"contacts": [{"PutRequest": {"Item": i}} for i in items[first : first + 25]]}
        )


def _pages(call, start=None, **request) -> list:
    """Every page of a paged read from ``start`` (answers without their metadata)."""
    pages = []
    while True:
        page = outcome(call, **request, **({"ExclusiveStartKey": start} if start else {}))
        pages.append(page)
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


READS = [
    ("query", {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "t1"}}}),
    ("query", {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "t2"}}, "Limit": 37}),
    (
        "query",
        {
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "t1"}},
            "ScanIndexForward": False,
        },
    ),
    (
        "query",
        {
            "KeyConditionExpression": "pk = :p AND sk > :s",
            "ExpressionAttributeValues": {":p": {"S": "t2"}, ":s": {"S": "c00040"}},
        },
    ),
    (
        "query",
        {
            "KeyConditionExpression": "pk = :p",
            "FilterExpression": "score > :n",
            "ExpressionAttributeValues": {":p": {"S": "t1"}, ":n": {"N": "50"}},
        },
    ),
    (
        "query",
        {
            "KeyConditionExpression": "pk = :p",
            "ProjectionExpression": "sk, email, fields.f1",
            "ExpressionAttributeValues": {":p": {"S": "t2"}},
        },
    ),
    (
        "query",
        {
            "IndexName": "changed",
            "KeyConditionExpression": "gpk = :g",
            "ExpressionAttributeValues": {":g": {"S": "t1#changed"}},
        },
    ),
    (
        "query",
        {
            "IndexName": "changed",
            "KeyConditionExpression": "gpk = :g AND gsk >= :d",
            "Limit": 50,
            "FilterExpression": "attribute_exists(labels)",
            "ExpressionAttributeValues": {":g": {"S": "t2#changed"}, ":d": {"S": "2026-01-10"}},
        },
    ),
    ("scan", {}),
    ("scan", {"Limit": 90, "FilterExpression": "score < :n", "ExpressionAttributeValues": {":n": {"N": "30"}}}),
    ("scan", {"IndexName": "changed"}),
]


@pytest.mark.parametrize("seed", [1, 2])
def test_paged_queries_scans_and_gets_over_1_mb_answer_exactly_as_unpatched_moto(seed, monkeypatch):
    def scenario(client):
        _load(client, seed)
        answers = []
        for kind, request in READS:
            answers.append(_pages(getattr(client, kind), TableName="contacts", **request))
        keys = [{"pk": i["pk"], "sk": i["sk"]} for i in answers[0][0]["Items"][:60]]
        answers.append(outcome(client.batch_get_item, RequestItems={"contacts": {"Keys": keys}}))
        answers.append([outcome(client.get_item, TableName="contacts", Key=key) for key in keys[:10]])
        return answers

    unpatched, patched = unpatched_and_patched(scenario, monkeypatch)
    assert max(len(pages) for pages in unpatched[: len(READS)]) >= 3  # the partitions cross 1 MB several times
    assert patched == unpatched


@pytest.mark.parametrize("kind, request_", [READS[0], READS[6], READS[8]])
def test_an_item_grown_by_update_item_between_two_pages_is_measured_anew(kind, request_, monkeypatch):
    def scenario(client):
        _load(client, 3)
        read = getattr(client, kind)
        before = _pages(read, TableName="contacts", **request_)
        for item in before[1]["Items"]:  # the second page's items grow by 30 KB in place: it is cut sooner
            client.update_item(
                TableName="contacts",
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="SET notes = :n",
                ExpressionAttributeValues={":n": {"S": "y" * 30_000}},
            )
        after = _pages(read, TableName="contacts", start=before[0]["LastEvaluatedKey"], **request_)
        return before, after

    unpatched, patched = unpatched_and_patched(scenario, monkeypatch)
    before, after = unpatched
    assert len(after[0]["Items"]) < len(before[1]["Items"])  # the grown page is cut at another item
    assert patched == unpatched


ODD_VALUES = [
    {"S": ""},
    {"S": "ünïcødé ✓"},
    {"N": "-12.500"},
    {"BOOL": False},
    {"NULL": True},
    {"B": b"\x00\xff"},
    {"SS": ["a", "bé"]},
    {"NS": ["1", "2.25"]},
    {"BS": [b"ab", b"c"]},
    {"L": []},
    {"M": {}},
    {"L": [{"S": "x"}, {"L": [{"N": "3"}, {"M": {"é": {"BOOL": True}}}]}, {"SS": ["q"]}]},
    {"M": {"a": {"M": {"b": {"L": [{"NULL": True}, {"B": b"z"}]}}}, "ñ": {"NS": ["7"]}}},
]


def test_every_kind_of_value_is_measured_as_moto_measures_it(moto_dynamodb):
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    measure = make_item_size(DynamoType.size)
    rng = random.Random(5)
    for _ in range(200):
        attrs = {f"a{i}é": rng.choice(ODD_VALUES) for i in range(rng.randint(1, 6))}
        item = Item(DynamoType({"S": "h"}), None, attrs)
        assert measure(item) == Item.size(item), attrs
    odd = Item(DynamoType({"S": "h"}), None, {"a": {"S": "b"}})
    dict.__setitem__(odd.attrs, "m", DynamoType({"M": {}}))
    odd.attrs["m"].value["raw"] = {"S": "a raw member moto wraps itself"}  # not a DynamoType
    assert measure(odd) == Item.size(odd)


def test_a_query_measures_each_item_once_not_twice(moto_dynamodb, monkeypatch):
    """moto measures every item of a page twice (does it fit? add it); a set attribute is measured by
    moto's ``DynamoType.size`` in both versions, so its calls count the measures."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    client = moto_dynamodb
    _contacts_table(client)
    for n in range(30):
        client.put_item(
            TableName="contacts", Item={"pk": {"S": "t"}, "sk": {"S": f"c{n:03d}"}, "labels": {"SS": ["a", "b"]}}
        )
    measured = []
    moto_size = DynamoType.size

    def counting_size(self):
        if self.type == "SS":
            measured.append(self)
        return moto_size(self)

    monkeypatch.setattr(DynamoType, "size", counting_size)
    install()
    try:
        for kind, request in [
            ("query", {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "t"}}}),
            ("scan", {}),
        ]:
            measured.clear()
            answer = getattr(client, kind)(TableName="contacts", **request)
            assert answer["Count"] == 30
            assert len(measured) == 30, kind
        assert len({id(v) for v in measured}) == 30
    finally:
        uninstall()
