"""moto's DynamoDB item requests read with ``json.loads``, giving moto the same parameters.

moto 5 parses every request body twice: ``json.loads``, then a walk of the result along the
operation's input shape (botocore's service model), member by member, to turn blobs and timestamps
into Python values. For the item operations the walk visits every attribute of every item, and on
the local stack it was the largest part of moto's request handling: a BatchWriteItem of 25
memberships or a TransactWriteItems of 100 contact items walks thousands of nodes to change nothing.

For the item operations the walk changes nothing unless the body holds a binary attribute value
(``B``/``BS``: base64 text becomes bytes) or a ``null`` (left out by the walk); their inputs have no
timestamps, and botocore sends no member the shape lacks. So such a body is taken as ``json.loads``
gives it, and any body that mentions ``"B"``, ``"BS"`` or ``null`` anywhere, every other operation
and every body that is not a JSON object keep moto's parser.

Before it calls the action, moto's handler also lists the names of every function of its class
(``method_names_from_class``: ``inspect.getmembers`` over a few hundred attributes, sorted) to see
whether the action is one of them, for every request: a tenth of a single UpdateItem's time. The
list is kept per class here. Only these patches change moto's handler classes, and they are all
installed before the server takes a request (and the list is dropped when they are removed).

Every answer also gets a request id of 52 characters from ``mock_random.get_random_string``, one
``Random.choice`` each (three Python calls a character): a sixth of a single UpdateItem's time. The
same characters are drawn here the way ``choice`` draws them (``getrandbits`` of the pool's bit
length, drawn again while out of range), so a seeded moto gives the same ids and its generator is
left in the same state; a generator whose ``choice`` or ``_randbelow`` is not ``random.Random``'s
own keeps moto's code.

moto's DynamoDB handler finds its backend anew each time an action asks for it (the
``dynamodb_backend`` property: a registry look-up that takes a lock, lists the accounts and compares
the registry with every other service's, ~5 µs), and a transaction's validation asks once per item:
it is found once per request here. A request's account and region are set before its action runs and
never change (the backend is looked up again if they did).

Every request that goes through moto's dispatcher (SQS, S3: whatever the direct route of
``infra.local_moto_server`` does not take) asks whether its host is the name of a moto module:
``moto.backends.list_of_moto_modules`` lists moto's package directory and asks the file system
whether each of its ~250 entries is a directory, per request (~5% of the moto server's CPU on the
demo, whose pollers ask SQS all along). Installed packages do not change while the server runs: the
listing is made once and kept (the same names in the same order).
"""

from __future__ import annotations

import json
import random
import string
from typing import Any

from infra.moto_patches import Patches

ITEM_OPERATIONS = frozenset(
    {
        "PutItem",
        "GetItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "TransactGetItems",
    }
)
_MARKS = ('"B"', '"BS"', "null")
_patches = Patches()


def plain_params(operation: str, body: bytes | str) -> dict[str, Any] | None:
    """What moto's parser would make of ``body``, when that is the body's JSON as it is; else None."""
    if operation not in ITEM_OPERATIONS:
        return None
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        return None
    if any(mark in text for mark in _MARKS):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def install() -> None:
    """Patch moto's DynamoDB handler in this process (idempotent)."""
    if _patches.installed:
        return
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.parse_parameters

    def parse_parameters(self: Any, request: Any) -> None:
        params = plain_params(self._get_action() or "", request.data)
        if params is None:
            original(self, request)
        else:
            self.params = params

    _patches.replace(DynamoHandler, "parse_parameters", parse_parameters)

    import moto.core.responses as core_responses

    listed = core_responses.method_names_from_class
    names_of: dict[Any, list[str]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        names = names_of.get(clazz)
        if names is None:
            names = names_of[clazz] = listed(clazz)
        return names

    _patches.replace(core_responses, "method_names_from_class", method_names_from_class)

    backend_of = DynamoHandler.dynamodb_backend.fget

    def dynamodb_backend(self: Any) -> Any:
        where = (self.current_account, self.region)
        kept = self.__dict__.get("_local_backend")
        if kept is None or kept[0] != where:
            kept = self.__dict__["_local_backend"] = (where, backend_of(self))
        return kept[1]

    _patches.replace(DynamoHandler, "dynamodb_backend", property(dynamodb_backend))

    import moto.backends as backends

    _patches.replace(backends, "list_of_moto_modules", make_kept_listing(backends.list_of_moto_modules))

    from moto.moto_api._internal.moto_random import MotoRandom

    _patches.replace(MotoRandom, "get_random_string", make_random_string(MotoRandom.get_random_string))


def make_kept_listing(list_of_moto_modules: Any) -> Any:
    """``moto.backends.list_of_moto_modules`` (given), listed on the first call and kept (see module)."""
    kept: list[tuple[str, ...]] = []

    def kept_list_of_moto_modules() -> tuple[str, ...]:
        if not kept:
            kept.append(tuple(list_of_moto_modules()))
        return kept[0]

    return kept_list_of_moto_modules


def make_random_string(original: Any) -> Any:
    """``MotoRandom.get_random_string`` drawing each character as ``Random.choice`` does (see module)."""
    pools = {True: string.ascii_letters + string.digits, False: string.ascii_letters}
    own_randbelow = random.Random._randbelow_with_getrandbits  # type: ignore[attr-defined]

    def get_random_string(self: Any, length: int = 20, include_digits: bool = True, lower_case: bool = False) -> str:
        cls = type(self)
        if cls.choice is not random.Random.choice or cls._randbelow is not own_randbelow:
            return original(self, length, include_digits, lower_case)
        pool = pools[bool(include_digits)]
        size = len(pool)
        width = size.bit_length()
        bits = self.getrandbits
        chars = []
        for _ in range(length):
            drawn = bits(width)
            while drawn >= size:
                drawn = bits(width)
            chars.append(pool[drawn])
        text = "".join(chars)
        return text.lower() if lower_case else text

    return get_random_string


def uninstall() -> None:
    """Give moto its own code back."""
    _patches.restore()
