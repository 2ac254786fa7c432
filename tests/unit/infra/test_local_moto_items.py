"""The local stack's moto items: built with one size check, refused at the same size as moto's own."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from infra import local_moto_items


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
