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
    """moto's threaded server (as ``moto.server.ThreadedMotoServer``) behind that middleware."""

    def __init__(self, host: str, port: int = 0) -> None:
        from moto.moto_server.threaded_moto_server import MotoRequestHandler
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        from infra import local_moto_query, local_moto_transactions

        local_moto_transactions.install()  # transactions cost their own items, not the whole table
        local_moto_query.install()  # a Query costs its partition, not a sort of the whole table
        app = ObjectPutsKeepTheirBody(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
