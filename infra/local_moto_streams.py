"""moto's DynamoDB Streams GetRecords answered as plain JSON, with the same records.

moto 5 passes each GetRecords answer through its generic, shape-driven response serializer: with
``NEW_AND_OLD_IMAGES`` that walks every attribute of two images per record, and on the local stack
it was the moto server's largest cost after HTTP handling while an import ran (the stream poller
reads every contact the import writes). The records moto stores are already in the wire format
(DynamoDB JSON images, a creation time that the JSON protocol sends as epoch seconds), so this
dumps them the way moto's DynamoDB handler dumps its own answers.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from infra.moto_patches import Patches

_patches = Patches()


def install() -> None:
    """Patch moto's DynamoDB Streams handler in this process (idempotent)."""
    if _patches.installed:
        return
    from moto.core.utils import unix_time
    from moto.dynamodb.models.utilities import DynamoJsonEncoder
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    class Encoder(DynamoJsonEncoder):
        def default(self, o: Any) -> Any:
            if isinstance(o, datetime):  # epoch seconds to the millisecond, as moto's serializer sends them
                return math.floor(unix_time(o) * 1000) / 1000
            return super().default(o)

    def get_records(self: Any) -> str:
        limit = self._get_param("Limit")
        answer = self.backend.get_records(self._get_param("ShardIterator"), 1000 if limit is None else limit)
        return json.dumps(answer, cls=Encoder)

    _patches.replace(DynamoDBStreamsHandler, "get_records", get_records)


def uninstall() -> None:
    """Give moto its own code back."""
    _patches.restore()
