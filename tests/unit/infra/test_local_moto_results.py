"""The local stack's moto answers made plain by a direct walk: the same values as moto's ``dynamo_to_dict``."""

from __future__ import annotations

import base64
import random
from datetime import datetime
from decimal import Decimal

from infra.local_moto_results import install, make_plain, uninstall

RAW_VALUES = [
    {"S": ""},
    {"S": "ünïcødé ✓"},
    {"N": "-12.500"},
    {"BOOL": False},
    {"BOOL": True},
    {"NULL": True},
    {"B": b"\x00\xff"},
    {"B": base64.b64encode(b"wire text").decode()},
    {"SS": ["a", "bé"]},
    {"NS": ["1", "2.25"]},
    {"BS": [b"ab", base64.b64encode(b"c").decode()]},
    {"L": []},
    {"M": {}},
    {"L": [{"S": "x"}, {"L": [{"N": "3"}, {"M": {"é": {"BOOL": True}}}]}, {"SS": ["q"]}, {"B": b"z"}]},
    {"M": {"a": {"M": {"b": {"L": [{"NULL": True}, {"B": b"z"}]}}}, "ñ": {"NS": ["7"]}}},
]


def _answer(rng: random.Random):
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    def attrs():
        return {f"a{i}": rng.choice(RAW_VALUES) for i in range(rng.randint(0, 6))}

    item = Item(DynamoType({"S": "h"}), None, {"pk": {"S": "h"}, **attrs()})
    return {
        "Count": rng.randint(0, 9),
        "ScannedCount": 3,
        "Items": [Item(DynamoType({"S": "h"}), None, attrs()).attrs for _ in range(rng.randint(0, 4))],
        "LastEvaluatedKey": {"pk": {"S": "h"}},  # moto's keys are raw dicts
        "Attributes": item,  # an object with to_json
        "Table": {"CreationDateTime": datetime(2026, 1, 2, 3, 4, 5), "Size": Decimal("1.5"), "Gone": None},
        "Values": [DynamoType(rng.choice(RAW_VALUES)) for _ in range(3)],
    }


def test_answers_are_made_plain_exactly_as_moto_makes_them(moto_dynamodb):
    from moto.dynamodb.models.utilities import dynamo_to_dict

    plain = make_plain(dynamo_to_dict)
    rng = random.Random(11)
    for _ in range(300):
        answer = _answer(rng)
        # repr: True and 1, bytes and text, Decimal and float must stay what moto gives
        assert repr(plain(answer)) == repr(dynamo_to_dict(answer))


def test_a_query_answer_of_plain_values_skips_motos_generic_walk(moto_dynamodb, monkeypatch):
    """moto's walk calls itself (by its module's name) for every value of every item; the direct walk
    never does (a binary value is handed to moto's function, which returns it without recursing)."""
    import moto.dynamodb.models.utilities as utilities

    client = moto_dynamodb
    client.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in range(20):
        item = {
            "pk": {"S": "t"},
            "sk": {"S": f"c{n:03d}"},
            "fields": {"M": {"score": {"N": str(n)}, "vip": {"BOOL": True}, "tags": {"L": [{"S": "a"}]}}},
            "labels": {"SS": ["x", "y"]},
            "gone": {"NULL": True},
        }
        if n == 7:
            item["blob"] = {"B": b"\x01\x02"}
        client.put_item(TableName="t", Item=item)
    walked = []
    moto_walk = utilities.dynamo_to_dict

    def counting_walk(obj):
        walked.append(obj)
        return moto_walk(obj)

    monkeypatch.setattr(utilities, "dynamo_to_dict", counting_walk)  # moto's walk calls itself by this name
    install()
    try:
        answer = client.query(
            TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "t"}}
        )
        assert answer["Count"] == 20 and answer["Items"][7]["blob"] == {"B": b"\x01\x02"}
        assert walked == []
    finally:
        uninstall()
