"""pynamodb would give each model class a botocore session of its own, and a new session parses
botocore's data files again (~100 ms of CPU per model class on a cold start): every connection of a
thread must create its client from one session."""

from __future__ import annotations

import threading

from audience.storage.base import connection
from audience.storage.membership_history_repo import HistoryEntryItem
from audience.storage.models import ContactItem, MembershipItem, SegmentItem, TenantItem

MODELS = (SegmentItem, TenantItem, ContactItem, MembershipItem, HistoryEntryItem)


def _sessions() -> list[object]:
    return [model._get_connection().connection.session for model in MODELS] + [connection().session]


def test_every_model_and_the_transaction_connection_share_one_botocore_session():
    sessions = _sessions()
    assert all(session is sessions[0] for session in sessions)


def test_clients_of_different_tables_come_from_the_shared_session():
    clients = [model._get_connection().connection.client for model in (SegmentItem, ContactItem, MembershipItem)]
    assert len({id(client) for client in clients}) == 3  # one client per connection, as pynamodb keeps them
    assert len({id(client._loader) for client in clients}) == 1  # noqa: SLF001 - one parse of the data files


def test_another_thread_gets_a_session_of_its_own():
    """botocore sessions are not thread-safe: a thread shares a session with itself only."""
    here = _sessions()[0]
    there: list[list[object]] = []
    worker = threading.Thread(target=lambda: there.append(_sessions()))
    worker.start()
    worker.join()
    assert all(session is there[0][0] for session in there[0])
    assert there[0][0] is not here


def test_every_client_pools_as_many_connections_as_a_run_sends_at_once():
    """A run writes 3 segments at once, each on ``batch.WORKERS`` threads: with pynamodb's default of
    10 pooled connections, botocore opened (and dropped) a connection for every request beyond them."""
    from audience.evaluation.results import SEGMENT_WRITERS
    from audience.storage import batch

    in_flight = SEGMENT_WRITERS * batch.WORKERS
    clients = [model._get_connection().connection.client for model in MODELS] + [connection().client]
    assert all(client.meta.config.max_pool_connections >= in_flight for client in clients)
