"""moto's DynamoDB answers turned into plain values by a direct walk, with the same values.

Every DynamoDB answer moto builds (``DynamoResult``) first goes through ``dynamo_to_dict``, which
asks of every value, at every depth, whether it is a datetime, a ``DynamoType``, has a ``to_json``,
is a dict or a list (``isinstance`` and ``hasattr`` each time), and reaches the items' attribute
dicts (moto's ``LimitedSizeDict``) only through its generic ``isinstance(obj, dict)`` branch. A
Query page of 1 MB holds ~1,500 demo contacts of ~25 values each: after the sizes
(``infra.local_moto_sizes``) that walk was the largest part of the snapshot's Query in moto.

This walk gives the same result for the shapes answers hold: a text, number, boolean or null value
is ``{type: value}``, a map or list is walked member by member, a text or number set is
``{type: [its members]}``; plain dicts (attribute dicts included), lists and JSON scalars are walked
or kept as they are. Anything else — binary values (which moto decodes from base64), datetimes,
objects with ``to_json``, a value of an unusual shape — is handed to moto's ``dynamo_to_dict``. An
item still kept as its request's attributes is answered as them (``infra.local_moto_items.PlainAttrs``):
those are already the plain values this walk would copy, and are handed on as they are.
"""

from __future__ import annotations

from typing import Any

from infra.moto_patches import Patches

_patches = Patches()
_SCALARS = frozenset({str, int, float, bool, type(None)})
_SETS = frozenset({"SS", "NS"})


def install() -> None:
    """Patch the ``dynamo_to_dict`` that moto's DynamoDB answers call in this process (idempotent)."""
    if _patches.installed:
        return
    import moto.dynamodb.responses as responses

    _patches.replace(responses, "dynamo_to_dict", make_plain(responses.dynamo_to_dict))


def make_plain(dynamo_to_dict: Any) -> Any:
    """A function equal to moto's ``dynamo_to_dict`` (given) that walks answers directly (see module)."""
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    from infra.local_moto_items import PlainAttrs

    dicts = (dict, LimitedSizeDict)  # neither has a to_json: moto walks both as dicts

    def plain(obj: Any) -> Any:
        kind_of = type(obj)
        if kind_of is DynamoType:
            kind, raw = obj.type, obj.value
            raw_type = type(raw)
            if raw_type is str or raw_type is bool:
                if kind != "B":
                    return {kind: raw}
            elif raw_type is dict:
                if kind == "M":
                    return {"M": {key: plain(member) for key, member in raw.items()}}
            elif raw_type is list:
                if kind == "L":
                    return {"L": [plain(member) for member in raw]}
                if kind in _SETS:
                    return {kind: [plain(member) for member in raw]}
            return dynamo_to_dict(obj)
        if kind_of in dicts:
            return {key: plain(value) for key, value in obj.items()}
        if kind_of is PlainAttrs:
            return obj  # what the walk above would give: an equal dict
        if kind_of is list:
            return [plain(value) for value in obj]
        if kind_of in _SCALARS:
            return obj
        return dynamo_to_dict(obj)

    return plain


def uninstall() -> None:
    """Give moto its own code back."""
    _patches.restore()
