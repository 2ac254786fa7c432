"""moto in server mode for the local stack, with S3's handling of upload bodies.

moto's server is a Flask app: a PUT whose ``Content-Type`` is ``application/x-www-form-urlencoded``
has its body parsed as a form and the object is stored with 0 bytes. That is exactly what
``curl --data-binary @leads.csv <presigned upload_url>`` sends, and real S3 keeps such a body as
it is. So object PUTs reach moto as ``application/octet-stream`` when they claim to be a form.
"""

from __future__ import annotations

import threading
from typing import Any

FORM = "application/x-www-form-urlencoded"


class ObjectPutsKeepTheirBody:
    """WSGI middleware: an S3 object PUT never has its body parsed as a form."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") == "PUT" and environ.get("CONTENT_TYPE", "").startswith(FORM):
            environ["CONTENT_TYPE"] = "application/octet-stream"
        return self.app(environ, start_response)


class LocalMotoServer:
    """moto's threaded server (as ``moto.server.ThreadedMotoServer``) behind that middleware, in a
    child process of its own.

    In the stack's process moto shared one interpreter lock with the front door, the pollers and
    every function it serves: a DynamoDB write waited for the importer's own parsing and the stream
    function's work, and theirs for moto (BatchWriteItem ran at ~600 items/s there). In its own
    process moto takes a core of its own, as DynamoDB is not in the caller's process either. The
    child ends when the stack stops or its parent dies (its end of the pipe closes).
    """

    def __init__(self, host: str, port: int = 0) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # never fork a process that runs threads
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(target=_serve, args=(host, port, child_conn), name="moto", daemon=True)
        self._address: tuple[str, int] | None = None

    def start(self) -> None:
        self._process.start()
        if not self._conn.poll(60):
            self._process.terminate()
            raise RuntimeError("moto's server did not start within 60 s")
        host, port = self._conn.recv()
        self._address = (str(host), int(port))

    def get_host_and_port(self) -> tuple[str, int]:
        assert self._address is not None, "start() first"
        return self._address

    def stop(self) -> None:
        self._conn.close()
        self._process.terminate()
        self._process.join(timeout=5)


def install_patches() -> None:
    """The local stack's changes to moto in this process: each keeps moto's answers and makes one
    cost follow the request instead of the table (see each module)."""
    from infra import (
        local_moto_answers,
        local_moto_items,
        local_moto_queries,
        local_moto_streams,
        local_moto_transactions,
    )

    local_moto_transactions.install()  # transactions back up their own items, not whole tables
    local_moto_queries.install()  # a Query reads its partition, not the whole table
    local_moto_items.install()  # an item's size is checked once, not once per attribute
    local_moto_streams.install()  # stream records dumped as JSON, not through the shape serializer
    local_moto_answers.install()  # read answers dumped as JSON, likewise


def _serve(host: str, port: int, conn: Any) -> None:
    """The child: moto's app with the local patches, serving until the parent goes away."""
    import contextlib
    import logging
    import os

    from moto.moto_server.threaded_moto_server import MotoRequestHandler
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    install_patches()
    app = ObjectPutsKeepTheirBody(DomainDispatcherApplication(create_backend_app))
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, name="moto", daemon=True).start()
    conn.send(server.server_address[:2])
    with contextlib.suppress(EOFError, OSError):
        conn.recv()  # nothing is ever sent: returns (EOFError) when the parent closes or dies
    os._exit(0)  # in-memory state only: nothing to tear down
