"""BatchWriteItem with exponential backoff on unprocessed items.

pynamodb's own ``batch_write`` retries UnprocessedItems immediately (no backoff) and ignores
``VersionAttribute``; it is only used here for unversioned items (memberships, unique keys).
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pynamodb.exceptions import PutError

from audience.storage.paging import chunks

BATCH_SIZE = 25
MAX_ATTEMPTS = 8
WORKERS = 8


def write(model: Any, puts: list[Any] = (), delete_keys: list[dict[str, Any]] = ()) -> int:
    """Put the model instances in ``puts`` and delete the ``delete_keys`` ({"pk", "sk"} strings).

    Returns the number of requests written. Raises PutError if some items stay unprocessed after
    every retry (nothing is silently dropped).
    """
    requests: list[dict[str, Any]] = [{"PutRequest": {"Item": item.serialize()}} for item in puts]
    requests += [{"DeleteRequest": {"Key": {name: {"S": value} for name, value in key.items()}}} for key in delete_keys]
    connection = model._get_connection()
    table = model.Meta.table_name
    batches = list(chunks(requests, BATCH_SIZE))
    if len(batches) <= 2:
        for chunk in batches:
            _write_chunk(connection, table, chunk)
    else:  # I/O-bound: a few calls in flight at once (botocore clients are thread-safe)
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(batches))) as pool:
            list(pool.map(lambda chunk: _write_chunk(connection, table, chunk), batches))
    return len(requests)


def _write_chunk(connection: Any, table: str, chunk: list[dict[str, Any]]) -> None:
    pending = chunk
    for attempt in range(MAX_ATTEMPTS):
        puts = [r["PutRequest"]["Item"] for r in pending if "PutRequest" in r]
        deletes = [r["DeleteRequest"]["Key"] for r in pending if "DeleteRequest" in r]
        data = connection.batch_write_item(put_items=puts or None, delete_items=deletes or None)
        pending = (data or {}).get("UnprocessedItems", {}).get(table) or []
        if not pending:
            return
        time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
    raise PutError(f"{len(pending)} items still unprocessed after {MAX_ATTEMPTS} attempts")
