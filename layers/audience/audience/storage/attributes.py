"""A map attribute that stores plain JSON-like documents (rules, contact fields, counts).

pynamodb's raw ``MapAttribute`` hands back ``MapAttribute`` objects and guesses number types; this one
stores a dict of JSON values as a native DynamoDB map and gives back plain ``dict``/``list``/``int``/
``float`` values, so the rule engine and the API see exactly what was written.
"""

from __future__ import annotations

import math
from decimal import Decimal
from functools import cache
from typing import Any

from pynamodb.attributes import Attribute
from pynamodb.constants import MAP


@cache
def _types() -> tuple[Any, Any]:
    """boto3's type (de)serialisers, imported on first use: importing boto3 costs ~45 ms of CPU, which
    the authorizer's cold start (it reads API keys, no map attribute) need not pay."""
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


DYNAMODB_DIGITS = 38


def to_dynamo(value: Any) -> Any:
    """JSON value -> value boto3 can serialise (numbers as Decimal, tuples as lists)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        # An int read back from a stored float such as 1e50 has 51 digits, all but one trailing zeros:
        # boto3 refuses more than 38 digits (decimal.Rounded), so it is stored as 1E+50 again.
        number = Decimal(value)
        return number.normalize() if len(str(abs(value))) > DYNAMODB_DIGITS else number
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite")
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {str(k): to_dynamo(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_dynamo(v) for v in value]
    raise TypeError(f"cannot store a value of type {type(value).__name__}")


def from_dynamo(value: Any) -> Any:
    """Inverse of ``to_dynamo``: integral Decimals become ``int``, others ``float``."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [from_dynamo(v) for v in value]
    return value


def document_to_raw(value: dict[str, Any]) -> dict[str, Any]:
    """``DocumentAttribute.serialize`` without boto3's serialiser: the attribute map (DynamoDB JSON)
    of a dict of JSON values, the same ``{"S": ...}``/``{"N": ...}`` values for every type. The
    importer writes every contact's fields this way; strings, booleans, ints of up to 38 digits,
    lists and maps are written here, anything else (floats, huge ints, wrong types) goes through
    ``to_dynamo`` and boto3's serialiser as before, with the same values and errors."""
    return {str(key): _raw(item) for key, item in value.items()}


_MAX_PLAIN_INT = 10**DYNAMODB_DIGITS


def _raw(value: Any) -> dict[str, Any]:
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is bool:
        return {"BOOL": value}
    if kind is int and -_MAX_PLAIN_INT < value < _MAX_PLAIN_INT:
        return {"N": str(value)}
    if kind is list:
        return {"L": [_raw(item) for item in value]}
    if kind is dict:
        return {"M": {str(key): _raw(item) for key, item in value.items()}}
    if value is None:
        return {"NULL": True}
    return _types()[0].serialize(to_dynamo(value))


def _number(text: str) -> int | float:
    """A DynamoDB number as ``from_dynamo`` gives it: plain digits straight to ``int``, the rest by Decimal."""
    digits = text[1:] if text[:1] == "-" else text
    if digits.isascii() and digits.isdigit():
        return int(text)
    return from_dynamo(Decimal(text))


def document_from_raw(value: dict[str, Any]) -> dict[str, Any]:
    """``DocumentAttribute.deserialize`` of a raw map (DynamoDB JSON ``{"name": {"S": ...}}``) without
    boto3's deserialiser and a model around it: the stream reads every contact image this way, the
    same values as the model's for every type (sets and binaries go the deserialiser's own way)."""
    return {key: _value(raw) for key, raw in value.items()}


def _value(raw: dict[str, Any]) -> Any:
    ((kind, inner),) = raw.items()
    if kind == "S":
        return inner
    if kind == "N":
        return _number(inner)
    if kind == "BOOL":
        return inner
    if kind == "NULL":
        return None
    if kind == "M":
        return {key: _value(item) for key, item in inner.items()}
    if kind == "L":
        return [_value(item) for item in inner]
    return from_dynamo(_types()[1].deserialize(raw))


class DocumentAttribute(Attribute[dict]):
    """A dict of JSON values stored as a DynamoDB map (``M``)."""

    attr_type = MAP

    def serialize(self, value: dict) -> dict:
        serializer = _types()[0]
        return {str(k): serializer.serialize(to_dynamo(v)) for k, v in value.items()}

    def deserialize(self, value: dict) -> dict:
        deserializer = _types()[1]
        return {k: from_dynamo(deserializer.deserialize(v)) for k, v in value.items()}
