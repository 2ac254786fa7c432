"""moto in server mode for the local stack, with S3's handling of upload bodies.

moto's server is a Flask app: a PUT whose ``Content-Type`` is ``application/x-www-form-urlencoded``
has its body parsed as a form and the object is stored with 0 bytes. That is exactly what
``curl --data-binary @leads.csv <presigned upload_url>`` sends, and real S3 keeps such a body as
it is. So object PUTs reach moto as ``application/octet-stream`` when they claim to be a form.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
from pathlib import Path
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
    child process of its own (``python -m infra.local_moto``).

    In the stack's process moto shared one interpreter lock with the front door, the pollers and
    every function it serves: a DynamoDB write waited for the importer's own parsing and the stream
    function's work, and theirs for moto. In its own process moto takes a core of its own, as
    DynamoDB is not in the caller's process either. A plain subprocess, not ``multiprocessing``:
    spawning would re-run the caller's ``__main__`` script. The child ends when the stack stops or
    its parent dies (its standard input closes).
    """

    def __init__(self, host: str, port: int = 0) -> None:
        self._command = [sys.executable, "-m", "infra.local_moto", host, str(port)]
        self._process: subprocess.Popen[str] | None = None
        self._address: tuple[str, int] | None = None

    def start(self) -> None:
        root = str(Path(__file__).resolve().parent.parent)
        paths = [root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        self._process = subprocess.Popen(
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=root,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
        )
        assert self._process.stdout is not None
        ready = self._process.stdout.readline().split()
        if len(ready) != 2:
            self._process.kill()
            raise RuntimeError(f"moto's server did not start (exit {self._process.wait()})")
        self._address = (ready[0], int(ready[1]))

    def get_host_and_port(self) -> tuple[str, int]:
        assert self._address is not None, "start() first"
        return self._address

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()


def _patch_modules() -> list[Any]:
    """The local stack's patch modules, in the order they are installed (and the reverse to remove)."""
    from infra import (
        local_moto_answers,
        local_moto_batches,
        local_moto_items,
        local_moto_locks,
        local_moto_puts,
        local_moto_queries,
        local_moto_requests,
        local_moto_results,
        local_moto_sizes,
        local_moto_streams,
        local_moto_transactions,
        local_moto_updates,
    )

    return [
        local_moto_transactions,  # transactions back up their own items as they write them, not whole tables
        local_moto_queries,  # a Query reads its partition, not the whole table, and copies no page
        local_moto_sizes,  # a Query's or Scan's items measured once each (after queries: it binds query's signature)
        local_moto_puts,  # a put's key, type and key-size checks in one tight pass each (before items wraps put_item)
        local_moto_items,  # an item's size checked once; its values built directly, or on first read for a plain put
        local_moto_batches,  # a BatchWriteItem's puts compared by key, not dumped to JSON
        local_moto_streams,  # stream records: images built in one walk, dumped as JSON
        local_moto_answers,  # read answers dumped as JSON, likewise
        local_moto_results,  # answers' moto values made plain by a direct walk, not moto's generic one
        local_moto_requests,  # item requests read with json.loads, not walked along their shapes
        local_moto_updates,  # plain SET updates assigned directly, not through the expression walk
        local_moto_locks,  # one DynamoDB request at a time, atomic to the others (last: the outermost wrapper)
    ]


def install_patches() -> None:
    """The local stack's changes to moto in this process: each keeps moto's answers and makes one
    cost follow the request instead of the table (see each module)."""
    for module in _patch_modules():
        module.install()


def uninstall_patches() -> None:
    """Give moto its own code back (tests compare patched and unpatched moto in one process)."""
    for module in reversed(_patch_modules()):
        module.uninstall()


def make_local_server(host: str, port: int, request_handler: Any = None) -> Any:
    """moto's app behind the local middleware in a threaded werkzeug server (not yet serving);
    requests handled by ``infra.local_moto_server.LocalRequestHandler`` unless told otherwise."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from infra.local_moto_server import LocalRequestHandler

    app = ObjectPutsKeepTheirBody(DomainDispatcherApplication(create_backend_app))
    return make_server(host, port, app, threaded=True, request_handler=request_handler or LocalRequestHandler)


def freeze_after_full_collections() -> None:
    """After each full collection of this process, move its survivors out of the collector's view.

    moto keeps every table's items as Python objects (~10 per item: the demo's ~1.3 million), and
    CPython's full collection walks all of them each time the objects created since the last one
    reach a quarter of those it kept: 11 full collections took 3.3-4.5 of moto's ~18-21 CPU-s while
    the demo's first run wrote its ~120,000 items. Frozen (``gc.freeze``), the survivors of a full
    collection are never walked again, so each later collection walks only what came after it, and
    the collections come as often as before. A survivor is nearly always a stored item (no cycles:
    reference counting still frees a deleted one); a cycle frozen in flight stays in memory until the
    stack stops, which a local stack can afford."""
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)


def _freeze_survivors(phase: str, info: dict[str, int]) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


def serve(host: str, port: int) -> None:
    """The child: moto's app with the local patches; prints ``host port`` once it listens, serves
    until its standard input closes (the stack stopped, or died)."""
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    install_patches()
    freeze_after_full_collections()
    server = make_local_server(host, port)
    threading.Thread(target=server.serve_forever, name="moto", daemon=True).start()
    bound_host, bound_port = server.server_address[:2]
    print(bound_host, bound_port, flush=True)
    sys.stdin.read()  # nothing is ever written: returns when the parent closes it or dies
    os._exit(0)  # in-memory state only: nothing to tear down


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
