"""BatchWriteItem with exponential backoff on unprocessed items, and BatchGetItem of raw keys.

pynamodb's own ``batch_write`` retries UnprocessedItems immediately (no backoff) and ignores
``VersionAttribute``; it is only used here for unversioned items (memberships, unique keys).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from itertools import chain, islice
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import GetError, PutError

from audience.storage.base import connection
from audience.storage.paging import chunks

BATCH_SIZE = 25
BATCH_GET_SIZE = 100  # DynamoDB's limit of keys per BatchGetItem
MAX_ATTEMPTS = 8
WORKERS = 8
AHEAD = 2  # batches built per writer thread beyond those in flight (``_send_all``)


def write(model: Any, puts: Iterable[Any] = (), delete_keys: Iterable[dict[str, Any]] = ()) -> int:
    """Put the model instances (or their serialised attribute maps) in ``puts`` and delete the
    ``delete_keys`` ({"pk", "sk"} strings); either may be a generator.

    Returns the number of requests written. Raises PutError if some items stay unprocessed after
    every retry (nothing is silently dropped; a failed batch stops the batches not yet sent). Items are
    taken from ``puts`` and serialised a batch at a time, at most ``AHEAD`` batches per writer ahead of
    the batches being written (``_send_all``), not all before the first write.
    """
    connection = model._get_connection()
    table = model.Meta.table_name
    batches = chunks(_requests(puts, delete_keys), BATCH_SIZE)
    head = list(islice(batches, 3))
    if len(head) <= 2:  # at most 2 * BATCH_SIZE requests: no pool
        for chunk in head:
            _write_chunk(connection, table, chunk)
        return sum(map(len, head))
    # I/O-bound: a few calls in flight at once, on one botocore client (thread-safe once built)
    _build_client(connection)
    return _send_all(connection, table, chain(head, batches))


def _send_all(connection: Any, table: str, batches: Iterable[list[dict[str, Any]]]) -> int:
    """Send the batches on ``WORKERS`` threads, taking (building) the next batch only when fewer than
    ``WORKERS * AHEAD`` are waiting or in flight.

    A run's first write of a segment hands over tens of thousands of memberships and history
    entries; submitted all at once, every batch's items and future stayed alive in the pool's queue
    for as long as the table took to write them (a 20,000-member slice with its entries: ~60 MB at
    the peak, three segments at once). Taken a few batches ahead of the writers, an item lives for
    the time of a few requests (~1 MB at the peak)."""
    written = 0
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        waiting: set[Future[None]] = set()
        for chunk in batches:
            while len(waiting) >= WORKERS * AHEAD:  # any batch done (one retrying with backoff holds no other)
                done, waiting = wait(waiting, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()
            waiting.add(pool.submit(_write_chunk, connection, table, chunk))
            written += len(chunk)
        for future in wait(waiting).done:
            future.result()
    return written


def build_client(model: Any) -> None:
    """Build ``model``'s botocore client on this thread, before threads of a pool use it: each new
    thread that found none would build one (``_build_client``), a scheduled run's segment writers
    three at once on a container's first run."""
    _build_client(model._get_connection())


def _build_client(connection: Any) -> None:
    """Build the connection's botocore client here, before the workers start.

    pynamodb builds a connection's client on its first call, unguarded: the pool's workers would all
    find none and each build one, every worker thread from a new botocore session of its own (the
    shared one, ``storage.base.botocore_session``, is per thread), which parses botocore's data files
    again: ~0.1-0.2 s of CPU per worker, on the first batch write of each model class of a container
    (a scheduled run's first segment). Built here, once, from this thread's shared session."""
    inner = getattr(connection, "connection", None)  # pynamodb's TableConnection wraps the Connection
    if inner is not None:
        inner.client  # noqa: B018 - the property builds and keeps the client


def _requests(puts: Iterable[Any], delete_keys: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in puts:
        yield {"PutRequest": {"Item": item if isinstance(item, dict) else item.serialize()}}
    for key in delete_keys:
        yield {"DeleteRequest": {"Key": {name: {"S": value} for name, value in key.items()}}}


def send_batch(client: Any, table: str, requests: list[dict[str, Any]]) -> dict[str, Any]:
    """One BatchWriteItem on the botocore client (the local stack sends it cheaper: ``infra.local_wire``)."""
    return client.batch_write_item(RequestItems={table: requests})


def _write_chunk(connection: Any, table: str, chunk: list[dict[str, Any]]) -> None:
    """One BatchWriteItem of the chunk's requests as they are, then of what DynamoDB left unprocessed
    (its answer's own requests), with backoff.

    Sent on the connection's botocore client: pynamodb's ``batch_write_item`` took the requests apart
    only to wrap every item again, one call per item, and added a ``ReturnConsumedCapacity`` nobody
    reads (~0.1 ms of the writer's CPU per request; a first run sends thousands)."""
    client = connection.connection.client  # pynamodb's TableConnection wraps the Connection
    pending = chunk
    for attempt in range(MAX_ATTEMPTS):
        try:
            data = send_batch(client, table, pending)
        except (BotoCoreError, ClientError) as exc:  # as pynamodb's batch_write_item raised them
            raise PutError(f"Failed to batch write items: {exc}", exc) from exc
        pending = (data or {}).get("UnprocessedItems", {}).get(table) or []
        if not pending:
            return
        time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
    raise PutError(f"{len(pending)} items still unprocessed after {MAX_ATTEMPTS} attempts")


def get_raw(
    table: str, keys: list[dict[str, Any]], *, consistent: bool = False, projection: str | None = None
) -> Iterator[dict[str, Any]]:
    """The items found under ``keys`` (raw keys, ``{"pk": {"S": ...}, "sk": {"S": ...}}``) as raw
    attribute maps, 100 keys a BatchGetItem, unprocessed keys read again with backoff; no model is
    built per item (pynamodb's ``batch_get`` builds one, ~20 us, and retries without backoff).
    ``projection`` names the attributes wanted (plain names only). Raises GetError if some keys stay
    unprocessed after every retry."""
    client = connection().client
    for chunk in chunks(keys, BATCH_GET_SIZE):
        request: dict[str, Any] = {"Keys": chunk, "ConsistentRead": consistent}
        if projection:
            request["ProjectionExpression"] = projection
        pending: dict[str, Any] = {table: request}
        for attempt in range(MAX_ATTEMPTS):
            answer = client.batch_get_item(RequestItems=pending)
            yield from answer.get("Responses", {}).get(table, [])
            pending = answer.get("UnprocessedKeys") or {}
            if not pending:
                break
            time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
        else:
            raise GetError(f"{len(pending[table]['Keys'])} keys still unprocessed after {MAX_ATTEMPTS} attempts")
