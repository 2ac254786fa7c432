"""moto's HTTP server for the local stack: connections kept alive, DynamoDB's requests handed
straight to moto's DynamoDB handler.

moto's server is werkzeug's development server in front of a Flask app per service. Two of its
costs grow with the number of requests, not with their work, and the local stack makes many small
requests (the demo's first run ~4,800 BatchWriteItem, the importer's transactions, the stream's
claims and reads):

- werkzeug closes every connection after its answer (``Connection: close``: http.server cannot
  drain an unread body before the next request line). Every request of every botocore client paid
  a TCP connect, an accept, and a new server thread, and the server sat in a 10 ms drain wait;
- every request passed moto's ``DomainDispatcherApplication`` (under one lock: decode the
  signature, match the host patterns of every service) and Flask (request context, URL map, CORS,
  a Response object) before reaching the same ``DynamoHandler.dispatch`` call. In a
  micro-benchmark of 25-item BatchWriteItem requests that was about a quarter of moto's CPU, and
  connections and threads another fifth.

``LocalRequestHandler`` reads any request whose body length is known (a ``Content-Length`` or no
body; no ``Transfer-Encoding``, no ``Expect: 100-continue``) in full, answers it with a
``Content-Length`` and keeps the connection open for the next one. A signed DynamoDB or DynamoDB
Streams JSON request (``X-Amz-Target: DynamoDB_20120810.*`` / ``DynamoDBStreams_20120810.*``,
credential scope ``dynamodb``, ``POST /``, no ``Origin``: exactly what moto's dispatcher routes
to those handlers, and CORS adds nothing without an Origin) calls the handler's ``dispatch`` the
way moto's Flask view does (``convert_to_flask_response``: the same request type, the recorder,
ClientError as 400, Flask's default content type). Every other request goes through moto's app as
before, only read and answered on the kept connection; the requests it cannot read ahead (chunked
or 100-continue uploads) keep werkzeug's own handling, which closes the connection.
"""

from __future__ import annotations

import contextlib
import io
import socket
from functools import cache
from typing import Any

from moto.moto_server.threaded_moto_server import MotoRequestHandler
from werkzeug.exceptions import InternalServerError

DIRECT_TARGETS = {"DynamoDB_20120810": "dynamodb", "DynamoDBStreams_20120810": "dynamodbstreams"}
_NO_BODY_CODES = frozenset({204, 304})


def direct_service(method: str, path: str, headers: Any) -> str | None:
    """The service whose handler a request goes to without moto's dispatcher, or None."""
    if method != "POST" or path != "/" or "Origin" in headers:
        return None
    target = headers.get("X-Amz-Target") or ""
    service = DIRECT_TARGETS.get(target.split(".", 1)[0]) if "." in target else None
    if service is None:
        return None
    try:  # "AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/dynamodb/aws4_request, ..."
        scope = (headers.get("Authorization") or "").split(",")[0].split()[1]
        signed_for = scope.split("/")[3]
    except IndexError:
        return None
    return service if signed_for.lower() == "dynamodb" else None


def _handler_class(service: str) -> Any:
    if service == "dynamodb":
        from moto.dynamodb.responses import DynamoHandler

        return DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    return DynamoDBStreamsHandler


@cache
def _server_request() -> Any:
    from moto.core.request import Request

    class ServerRequest(Request):  # as moto's BackendRequest: server mode, Date set by the server
        from_wsgi_server = True

    return ServerRequest


def call_handler(service: str, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """What moto's Flask view answers for this request: ``convert_to_flask_response`` without Flask."""
    from botocore.exceptions import ClientError
    from moto.moto_api import recorder

    request = _server_request()(environ)
    recorder._record_request(request)
    try:
        result = _handler_class(service).dispatch(request, request.raw_url, dict(request.headers))
    except ClientError as exc:
        result = 400, {}, exc.response["Error"]["Message"]
    if len(result) == 3:
        status, headers, content = result
    else:
        status, headers, content = 200, {}, result
    body = content.encode("utf-8") if isinstance(content, str) else bytes(content or b"")
    pairs = [(str(k), str(v)) for k, v in headers.items()]
    if not any(k.lower() == "content-type" for k, _ in pairs):
        pairs.append(("Content-Type", "text/html; charset=utf-8"))  # Flask's default mimetype
    return int(status), pairs, body


def call_app(app: Any, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """A WSGI app's whole answer: status code, headers, body."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return lambda data: chunks.append(data)

    chunks: list[bytes] = []
    answer = app(environ, start_response)
    try:
        chunks.extend(answer)
    finally:
        if hasattr(answer, "close"):
            answer.close()
    status, headers = started
    return int(status.split(None, 1)[0]), list(headers), b"".join(chunks)


class LocalRequestHandler(MotoRequestHandler):
    """moto's request handler with kept-alive connections and DynamoDB's direct route (see module)."""

    protocol_version = "HTTP/1.1"  # keep-alive by default (werkzeug sets it only when threaded)

    def run_wsgi(self) -> None:
        headers = self.headers
        if headers.get("Transfer-Encoding") or headers.get("Expect"):
            super().run_wsgi()  # werkzeug's way: answers, then closes the connection
            return
        length = int(headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if len(body) < length:
            self.close_connection = True  # the client went away mid-body
            return
        environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(length)
        service = direct_service(self.command, environ["PATH_INFO"], headers)
        try:
            answer = call_app(self.server.app, environ) if service is None else call_handler(service, environ)
        except Exception as exc:  # as werkzeug: a 500 answer and the traceback in the log
            from werkzeug.debug.tbtools import DebugTraceback

            self.server.log("error", f"Error on request:\n{DebugTraceback(exc).render_traceback_text()}")
            environ["wsgi.input"] = io.BytesIO(b"")
            answer = call_app(InternalServerError(), environ)
        self._answer(*answer)

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Status line, headers and body in one write: a second small write on a kept connection
        would wait for the client's delayed ACK (Nagle)."""
        code_text = self.responses.get(status, ("",))[0]
        self.send_response(status, code_text)
        names = set()
        for key, value in headers:
            self.send_header(key, value)
            names.add(key.lower())
        head = self.command == "HEAD"
        if status in _NO_BODY_CODES or 100 <= status < 200:
            body = b""
        elif "content-length" not in names:
            self.send_header("Content-Length", str(len(body)))
        if head:
            body = b""
        self._headers_buffer.append(b"\r\n")  # type: ignore[attr-defined]
        self._headers_buffer.append(body)  # type: ignore[attr-defined]
        try:
            self.flush_headers()
        except (TimeoutError, ConnectionError):
            self.close_connection = True

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        """No line per request (the local stack sets werkzeug's log to warnings only anyway)."""

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):  # answers are single writes; never hold one back for an ACK
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
