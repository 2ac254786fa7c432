"""One DynamoDB request at a time in moto, so that each is atomic to the others, as in DynamoDB.

DynamoDB applies an UpdateItem, a PutItem or a transaction as one step: a reader sees the item
before it or after it. moto's server answers requests on many threads and applies an update one
attribute at a time to the live item (``SET status = :s, result = :r`` is two assignments; moto's
own executor and ``local_moto_updates`` alike), with nothing between its threads. So a GetItem
arriving mid-update could answer a half-written item: the fuzz test once read an export job that
was ``succeeded`` without the ``result`` the same UpdateItem set, and the API answered 500.

Each DynamoDB and DynamoDB Streams action runs here under one lock, from its parsed request to its
serialised answer. moto's work is Python under the interpreter lock already, so this costs the
local stack little: reading and writing the HTTP stays parallel, only the handlers take turns.
Installed last, so the lock is the outermost wrapper of the other patches' ``call_action``.
"""

from __future__ import annotations

import threading
from typing import Any

from infra.moto_patches import Patches

_patches = Patches()
LOCK = threading.RLock()


def install() -> None:
    """Serialise moto's DynamoDB and DynamoDB Streams actions in this process (idempotent)."""
    if _patches.installed:
        return
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        _patches.replace(handler, "call_action", _locked(handler.call_action))


def _locked(call_action: Any) -> Any:
    def call_action_alone(self: Any) -> Any:
        with LOCK:
            return call_action(self)

    return call_action_alone


def uninstall() -> None:
    """Give moto its own code back."""
    _patches.restore()
