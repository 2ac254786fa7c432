"""Batch writes: every item written once, 25 per request, serialised while earlier batches are sent."""

from __future__ import annotations

import threading

from audience.storage import batch


class FakeConnection:
    def __init__(self) -> None:
        self.requests: list[tuple[list, list]] = []
        self.wrote = threading.Event()
        self.lock = threading.Lock()

    def batch_write_item(self, put_items=None, delete_items=None):
        with self.lock:
            self.requests.append((put_items or [], delete_items or []))
        self.wrote.set()
        return {}


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
