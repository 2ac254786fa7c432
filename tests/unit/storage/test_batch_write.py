"""Batch writes: every item written once, 25 per request, serialised while earlier batches are sent."""

from __future__ import annotations

import threading

from audience.storage import batch


class FakeConnection:
    """pynamodb's TableConnection (``.connection``) and its Connection's botocore client (``.client``)."""

    def __init__(self, unprocessed: int = 0) -> None:
        self.requests: list[tuple[list, list]] = []
        self.sent: list[dict] = []
        self.wrote = threading.Event()
        self.lock = threading.Lock()
        self.connection = self.client = self
        self.unprocessed = unprocessed  # the first request's last items are left unprocessed

    def batch_write_item(self, **request):
        ((table, writes),) = request["RequestItems"].items()
        with self.lock:
            self.sent.append(request)
            self.requests.append(([w["PutRequest"]["Item"] for w in writes if "PutRequest" in w],
                                  [w["DeleteRequest"]["Key"] for w in writes if "DeleteRequest" in w]))
            left, self.unprocessed = writes[len(writes) - self.unprocessed:] if self.unprocessed else [], 0
        self.wrote.set()
        return {"UnprocessedItems": {table: left} if left else {}}


def model_with(connection):
    class Meta:
        table_name = "t"

    class Model:
        pass

    Model.Meta = Meta
    Model._get_connection = staticmethod(lambda: connection)
    return Model


class Item:
    def __init__(self, n: int, connection: FakeConnection, last: bool = False) -> None:
        self.n, self.connection, self.last = n, connection, last

    def serialize(self):
        if self.last:  # the first batches are on their way before the last item is serialised
            assert self.connection.wrote.wait(5), "nothing was written before every item was serialised"
        return {"pk": {"S": str(self.n)}}


def test_items_are_serialised_while_earlier_batches_are_written_and_each_written_once():
    connection = FakeConnection()
    items = [Item(n, connection, last=n == 199) for n in range(200)]
    keys = [{"pk": f"d{n}", "sk": "x"} for n in range(30)]
    assert batch.write(model_with(connection), puts=items, delete_keys=keys) == 230
    puts = [p["pk"]["S"] for put_items, _ in connection.requests for p in put_items]
    deletes = [d["pk"]["S"] for _, delete_items in connection.requests for d in delete_items]
    assert sorted(puts, key=int) == [str(n) for n in range(200)]
    assert sorted(deletes) == sorted(f"d{n}" for n in range(30))
    assert len(connection.requests) == 10 and all(len(p) + len(d) <= 25 for p, d in connection.requests)


def test_a_few_items_are_written_in_order_without_a_pool():
    connection = FakeConnection()
    assert batch.write(model_with(connection), puts=[Item(n, connection) for n in range(30)]) == 30
    assert [len(p) for p, _ in connection.requests] == [25, 5]


def test_a_request_is_the_chunk_as_built_and_only_the_unprocessed_items_are_sent_again(monkeypatch):
    """Each BatchWriteItem carries the chunk's requests themselves (not rebuilt item by item, no
    consumed capacity asked for), and a retry only what DynamoDB answered unprocessed."""
    monkeypatch.setattr(batch.time, "sleep", lambda seconds: None)
    connection = FakeConnection(unprocessed=3)
    items = [{"pk": {"S": str(n)}} for n in range(20)]
    keys = [{"pk": f"d{n}", "sk": "x"} for n in range(2)]
    assert batch.write(model_with(connection), puts=items, delete_keys=keys) == 22
    first, retry = connection.sent
    assert first == {"RequestItems": {"t": first["RequestItems"]["t"]}}
    sent_items = [w["PutRequest"]["Item"] for w in first["RequestItems"]["t"][:20]]
    assert sent_items == items
    assert all(a is b for a, b in zip(sent_items, items, strict=True))
    assert retry == {"RequestItems": {"t": first["RequestItems"]["t"][-3:]}}


class BlockedConnection(FakeConnection):
    """Every request waits until ``release`` is set: the table is slower than the items come."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.in_flight = 0

    def batch_write_item(self, **request):
        with self.lock:
            self.in_flight += 1
        assert self.release.wait(10), "the test never released the writers"
        return super().batch_write_item(**request)


def test_items_are_taken_only_a_few_batches_ahead_of_the_writers():
    """A run hands a segment's tens of thousands of memberships over as a generator: while the table
    is busy, the writer takes (builds) only a few batches per writer thread beyond those in flight,
    instead of every item at once (all alive until written: memory, and the garbage collector's full
    walks of the heap). Every item is still written once."""
    connection = BlockedConnection()
    taken = 0

    class Items:  # sized, as a list is, but built as it is read
        def __len__(self):
            return 2_000

        def __iter__(self):
            nonlocal taken
            for n in range(2_000):
                taken += 1
                yield {"pk": {"S": str(n)}}

    done = threading.Thread(target=batch.write, args=(model_with(connection),), kwargs={"puts": Items()})
    done.start()
    try:
        for _ in range(100):  # until every writer is blocked in a request and the taking has stopped
            before = taken
            threading.Event().wait(0.05)
            if connection.in_flight >= batch.WORKERS and taken == before:
                break
        held = taken
    finally:
        connection.release.set()
        done.join(10)
    assert held <= (batch.WORKERS * 3 + 1) * batch.BATCH_SIZE  # in flight, and two batches a writer ahead
    written = sorted(int(p["pk"]["S"]) for put_items, _ in connection.requests for p in put_items)
    assert written == list(range(2_000))


def test_a_batch_that_waits_does_not_stop_the_others():
    """While one request waits (DynamoDB left items unprocessed and its retry backs off), the other
    writers keep taking and sending batches: only batches in flight count against the few taken ahead."""
    connection = FakeConnection()
    stuck = threading.Event()
    send = connection.batch_write_item

    def first_waits(**request):
        if request["RequestItems"]["t"][0]["PutRequest"]["Item"]["pk"]["S"] == "0":
            assert stuck.wait(10)
        return send(**request)

    connection.batch_write_item = first_waits
    items = [{"pk": {"S": str(n)}} for n in range(2_000)]
    done = threading.Thread(target=batch.write, args=(model_with(connection),), kwargs={"puts": items})
    done.start()
    try:
        for _ in range(200):
            if len(connection.requests) == 2_000 // batch.BATCH_SIZE - 1:
                break
            threading.Event().wait(0.05)
        others = len(connection.requests)
    finally:
        stuck.set()
        done.join(10)
    assert others == 2_000 // batch.BATCH_SIZE - 1
    assert len(connection.requests) == 2_000 // batch.BATCH_SIZE
