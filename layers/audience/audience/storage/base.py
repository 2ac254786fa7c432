"""pynamodb models bound to the deployment's settings at call time, not at import time.

pynamodb reads ``Meta`` when a model first talks to DynamoDB and then caches the connection on the
class. Handlers import models long before tests (or the local stack) set the environment, so the
``Meta`` values here are descriptors that read ``audience.settings.get_settings()`` on every access,
and a model drops its cached connection whenever the settings object changes (tests clear the
settings cache when they switch environments).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import botocore.session
from pynamodb.connection import Connection
from pynamodb.models import Model

from audience.settings import Settings, get_settings


class _FromSettings:
    """A class-level attribute whose value is computed from the current settings."""

    def __init__(self, read: Callable[[Settings], object]) -> None:
        self.read = read

    def __get__(self, instance: object, owner: type | None = None) -> object:
        return self.read(get_settings())


# HTTP connections a botocore client keeps for its threads (pynamodb's default: 10). A scheduled run
# writes ``SEGMENT_WRITERS`` (3) segments at once on one model's client, each on ``batch.WORKERS`` (8)
# threads: 24 requests in flight. With 10 pooled, botocore opened a new connection for every request
# beyond them and dropped it after (20-77 new connections per 2,400 requests on the demo's first run):
# locally a TCP connect, on AWS a TLS handshake each.
POOL_CONNECTIONS = 32


def table_meta(read_table_name: Callable[[Settings], str]) -> type:
    """A ``Meta`` class for a model stored in the table that ``read_table_name`` picks from settings."""

    class Meta:
        table_name = _FromSettings(read_table_name)
        region = _FromSettings(lambda s: s.region)
        host = _FromSettings(lambda s: s.aws_endpoint_url)
        max_retry_attempts = 5
        max_pool_connections = POOL_CONNECTIONS

    return Meta


_sessions = threading.local()


def botocore_session() -> botocore.session.Session:
    """This thread's botocore session: every pynamodb connection creates its client from it.

    pynamodb gives each model class its own connection and each connection its own new botocore
    session, and a new session parses botocore's data files (the DynamoDB service model, endpoint
    rules, partitions) again: ~100 ms of CPU for the first call of each model class, against ~4 ms
    for a client from a session that has them. Sessions are not thread-safe, hence one per thread,
    as pynamodb itself keeps them.
    """
    session = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = botocore.session.get_session()
    return session


def _share_session(conn: Connection) -> Connection:
    """``conn`` creates its client from this thread's shared session (pynamodb reads the session it
    creates clients from in ``Connection._local.session``, per thread)."""
    if getattr(conn._local, "session", None) is None:  # noqa: SLF001
        conn._local.session = botocore_session()  # noqa: SLF001
    return conn


class SettingsBoundModel(Model):
    """Base of every model: reconnects when the settings (table names, endpoint) change, and
    creates its botocore client from the process's shared session (``botocore_session``)."""

    _bound_settings: Settings | None = None

    @classmethod
    def _get_connection(cls):  # type: ignore[override]
        settings = get_settings()
        if cls.__dict__.get("_bound_settings") is not settings:
            cls._connection = None
            cls._bound_settings = settings
        table = super()._get_connection()
        _share_session(table.connection)
        return table


_connection_cache: dict[str, tuple[Settings, Connection]] = {}


def connection() -> Connection:
    """A low-level connection for transactions (``TransactWrite(connection=...)``).

    Reused while the settings are unchanged: building one costs a botocore client (~0.1 s), which
    would dominate every transactional write (imports write thousands).
    """
    settings = get_settings()
    cached = _connection_cache.get("current")
    if cached is not None and cached[0] is settings:
        return _share_session(cached[1])  # set per thread: another thread may use it too
    conn = _share_session(
        Connection(
            region=settings.region,
            host=settings.aws_endpoint_url,
            max_retry_attempts=5,
            max_pool_connections=POOL_CONNECTIONS,
        )
    )
    _connection_cache["current"] = (settings, conn)
    return conn


def now_iso() -> str:
    """UTC now as ISO 8601 with milliseconds and a ``Z``: sorts lexicographically in time order."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def versioned(version: int | None) -> dict[str, int]:
    """Constructor kwargs for a model's ``version`` (pynamodb refuses ``version=None``)."""
    return {} if version is None else {"version": int(version)}


def new_id() -> str:
    """32 hex characters: milliseconds since the epoch, then 80 random bits.

    Ids sort by creation time, so a Query over ``SEG#``/``CAMP#`` lists oldest first (what people
    expect from a list) and stays unguessable.
    """
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"
