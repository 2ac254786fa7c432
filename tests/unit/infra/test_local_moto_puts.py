"""The local stack's moto puts: checked in one tight pass, with the same answers, items and stream
records as moto's own checks, and without moto's per-item walks for plain items."""

from __future__ import annotations

from contextlib import contextmanager

import boto3
import pytest
from botocore.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from infra import local_moto_puts
from tests.unit.infra import conftest
from tests.unit.infra.conftest import create_pk_sk_table, outcome, table_state

NAMES = ["x", "n", "N", "S", "NULL", "M", "gsi1pk"]
NUMBERS = ["1", "00", "-1", "1.5", " 1", "", "1e500", "x", "\u0661\u0662", "9" * 38, "9" * 39, "1" * 130]
TEXTS = ["a", "", "é", "a" * 1024, "a" * 1025, "é" * 600]
scalars = st.one_of(
    st.builds(lambda t: {"S": t}, st.sampled_from(TEXTS)),
    st.builds(lambda n: {"N": n}, st.sampled_from(NUMBERS)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.builds(lambda b: {"NULL": b}, st.booleans()),
    st.just({"SS": ["a", "b"]}),
    st.just({"S": "x", "N": "1"}),
)
# a number sent as text: moto's type check refuses it as an attribute or in a map (in a list moto fails
# with a Python error when it sizes the item, which the local stack skips for a request under 405 KB)
number_as_text = st.builds(lambda n: {"S": n}, st.integers(0, 3))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.builds(lambda m: {"M": m}, st.dictionaries(st.sampled_from(NAMES), inner, max_size=3)),
        st.builds(lambda members: {"L": members}, st.lists(inner, max_size=3)),
    ),
    max_leaves=6,
)
plain = st.one_of(
    st.builds(lambda t: {"S": t}, st.sampled_from(["a", "b", "é"])),
    st.builds(lambda n: {"N": n}, st.sampled_from(["1", "20"])),
    st.builds(lambda m: {"M": m}, st.dictionaries(st.sampled_from(["a", "b"]), st.just({"S": "c"}), max_size=2)),
)
keys = st.one_of(
    st.builds(lambda t: {"S": t}, st.sampled_from(["a", "b", "c"])),
    st.builds(lambda t: {"S": t}, st.sampled_from(TEXTS)),
    st.just({"N": "1"}),
    st.none(),
)
items = st.builds(
    lambda pk, sk, g1, g2, rest: {
        name: value
        for name, value in {"pk": pk, "sk": sk, "gsi1pk": g1, "gsi1sk": g2, **rest}.items()
        if value is not None
    },
    keys,
    keys,
    keys,
    keys,
    st.dictionaries(st.sampled_from(NAMES[:-1]), st.one_of(plain, plain, values, number_as_text), max_size=4),
)


def create_table(client) -> None:
    create_pk_sk_table(client, stream=True, index=("by_g", "gsi1pk", "gsi1sk"))


def attempt(call, **kwargs):
    """``outcome`` of the call, or the Python error moto raised (in-process moto lets them through)."""
    try:
        return outcome(call, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the same error is expected of both
        return {"raised": type(exc).__name__, "message": str(exc)}


def put_everywhere(client, batch: list[dict]) -> list:
    """The items put by BatchWriteItem, by PutItem one by one, and by a TransactWriteItems (with a
    condition on each put): every answer, then the table's items and stream records."""
    answers = [attempt(client.batch_write_item, RequestItems={"t": [{"PutRequest": {"Item": i}} for i in batch]})]
    answers += [attempt(client.put_item, TableName="t", Item=item) for item in batch]
    transaction = [
        {
            "Put": {
                "TableName": "t",
                "Item": {**item, "v": {"N": "2"}},
                "ConditionExpression": "attribute_not_exists(#v)",
                "ExpressionAttributeNames": {"#v": "v"},
            }
        }
        for item in batch
    ]
    answers.append(attempt(client.transact_write_items, TransactItems=transaction))
    try:
        state = table_state(client, "t")
    except Exception as exc:  # noqa: BLE001 - a scan that fails fails alike on both
        state = repr(exc)
    return [answers, state]


def unpatched_and_patched(scenario, monkeypatch) -> list:
    """``scenario(client)`` on a fresh table ``t`` of unpatched moto, then of patched moto
    (``conftest.unpatched_and_patched``); the client sends values as given (no client-side
    validation), as a careless caller would."""

    def on_a_new_table(client):
        create_table(client)
        return scenario(client)

    return conftest.unpatched_and_patched(on_a_new_table, monkeypatch, Config(parameter_validation=False))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(items, min_size=1, max_size=3))
def test_puts_are_answered_stored_and_streamed_exactly_as_by_moto(batch, monkeypatch):
    unpatched, patched = unpatched_and_patched(lambda client: put_everywhere(client, batch), monkeypatch)
    assert patched == unpatched


def membership(n: int) -> dict:
    return {
        "pk": {"S": "t#M#s"},
        "sk": {"S": f"c{n}"},
        "gsi1pk": {"S": f"t#C#c{n}"},
        "gsi1sk": {"S": "s"},
        "source": {"S": "rules"},
        "rank": {"N": str(n)},
        "fields": {"M": {"a": {"S": "b"}, "l": {"L": []}}},
    }


def edge_cases() -> list[dict]:
    """One item per clause of the proof (and its boundary): each is refused, or stored, as moto does."""
    base = membership(0)
    return [
        base,
        {**base, "sk": {"S": "c1"}, "gsi1sk": {"S": ""}},
        {**base, "sk": {"S": ""}},
        {**base, "sk": {"S": "a" * 1024}},
        {**base, "sk": {"S": "a" * 1025}},
        {**base, "sk": {"S": "é" * 512}},
        {**base, "sk": {"S": "é" * 513}},
        {**base, "sk": {"S": "c2"}, "gsi1pk": {"S": "g" * 2048}},
        {**base, "sk": {"S": "c3"}, "gsi1pk": {"S": "g" * 2049}},
        {**base, "sk": {"N": "1"}},
        {k: v for k, v in base.items() if k != "sk"},
        {**base, "sk": {"S": "c4"}, "N": {"S": "x"}},
        {**base, "sk": {"S": "c5"}, "rank": {"N": "1.5e3"}},
        {**base, "sk": {"S": "c6"}, "rank": {"N": "x"}},
        {**base, "sk": {"S": "c7"}, "rank": {"N": "9" * 39}},
        {**base, "sk": {"S": "c8"}, "rank": {"S": 5}},
        {**base, "sk": {"S": "c9"}, "z": {"NULL": False}},
        {**base, "sk": {"S": "d0"}, "z": {"M": {"S": {"S": "x"}}}},
        {**base, "sk": {"S": "d1"}, "z": {"M": {"n": {"N": "-1"}}}},
        {**base, "sk": {"S": "d2"}, "gsi1sk": {"N": "1"}},
        # values moto builds by DynamoType (an item stored as its request must build as directly later)
        {**base, "sk": {"S": "d3"}, "z": {"L": [{}]}},
        {**base, "sk": {"S": "d4"}, "z": {"M": {"k": {"L": [{"S": "a", "N": "1"}]}}}},
        {**base, "sk": {"S": "d5"}, "z": {"L": [{"M": {"b": {"B": b"x"}}}]}},
        {**base, "sk": {"S": "d6"}, "z": {"M": {"b": {"B": b"x"}}}, "y": {"BS": [b"y"]}},
    ]


@pytest.mark.parametrize("case", range(len(edge_cases())))
def test_each_clause_of_the_proof_agrees_with_moto(case, monkeypatch):
    item = edge_cases()[case]
    unpatched, patched = unpatched_and_patched(lambda client: put_everywhere(client, [item]), monkeypatch)
    assert patched == unpatched


@contextmanager
def only_the_put_patch(monkeypatch):
    """A client of a fresh moto with this module's patch alone, and its table ``t``."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        local_moto_puts.install()
        try:
            client = boto3.client("dynamodb", region_name="us-east-1")
            create_table(client)
            yield client
        finally:
            local_moto_puts.uninstall()


def test_plain_items_are_put_without_moto_s_per_item_walks(monkeypatch):
    from moto.dynamodb.models.table import Table

    calls = {"item types": 0, "key names": 0}
    validate, names = Table._validate_item_types, Table.hash_key_names

    def counted_validate(self, item_attrs, attr=None):
        calls["item types"] += attr is None
        return validate(self, item_attrs, attr)

    def counted_names(self):
        calls["key names"] += 1
        return names.fget(self)

    monkeypatch.setattr(Table, "_validate_item_types", counted_validate)
    monkeypatch.setattr(Table, "hash_key_names", property(counted_names))
    with only_the_put_patch(monkeypatch) as client:
        client.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": membership(n)}} for n in range(25)]})
        assert calls == {"item types": 0, "key names": 1}  # the table's key names read once, no item walked
        bad = {**membership(99), "n": {"N": "1.5"}, "S": {"S": "x"}}
        client.put_item(TableName="t", Item=bad)  # not plain: moto's own walk judges it
        assert calls["item types"] == 2  # the two odd attributes, one by one
        assert client.scan(TableName="t")["Count"] == 26


@pytest.mark.parametrize("item", [membership(1), {**membership(1), "gsi1sk": {"S": ""}}, {"pk": {"S": "a"}}])
def test_a_proof_is_forgotten_when_its_request_ends(item, monkeypatch):
    with only_the_put_patch(monkeypatch) as client:
        outcome(client.put_item, TableName="t", Item=item)
        assert local_moto_puts._PROVEN.pairs is None
