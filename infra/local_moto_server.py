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

The direct route also builds less around each request (``DirectRequest``): werkzeug's and moto's
``make_environ`` walked the parsed headers three times (a policy call per header per walk), and moto's
``setup_class`` then read the request's URL (``url_root``: host, IRI decoding), its form (werkzeug's
form machinery for a JSON body) and its body through the WSGI stream, per request: with the environ
~30% of a single UpdateItem's CPU. The direct route's environ is werkzeug's and moto's for such a
request (path ``/``, no query, no header name with ``_``, no TLS), built in one walk; its request is
moto's, with the body it was read with, no form (werkzeug gives a JSON body none), and the URL that
moto's own ``raw_url`` gives, computed once per host. A gzip-encoded or form-typed body keeps moto's
request as before. The handler's ``setup_class`` and everything after it are moto's own.

Every request's header block was parsed by the ``email`` package's feed parser (``http.client.
parse_headers``): ~140 µs a botocore request, about a tenth of a single UpdateItem. A block of plain
``Name: value`` lines (a name of printable characters without a colon, no continuation line) is split
directly into the same ``HTTPMessage`` (``plain_headers``); any other block keeps the email parser.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import re
import socket
import sys
from functools import cache, lru_cache
from http import HTTPStatus
from typing import Any

from moto.moto_server.threaded_moto_server import MotoRequestHandler
from werkzeug.exceptions import InternalServerError

DIRECT_TARGETS = {"DynamoDB_20120810": "dynamodb", "DynamoDBStreams_20120810": "dynamodbstreams"}
_NO_BODY_CODES = frozenset({204, 304})
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
_PLAIN_HEADER = re.compile(rb"([\x21-\x39\x3b-\x7e]+):[ \t]*(.*?)\r?\n", re.DOTALL)
_MAX_LINE, _MAX_HEADERS = 65536, 100  # http.client's limits (_MAXLINE, _MAXHEADERS)


def plain_headers(lines: list[bytes]) -> http.client.HTTPMessage | None:
    """The message ``http.client.parse_headers`` makes of these header lines (the block's last line
    the empty one), when every other line is a plain ``Name: value`` line; else None. The email parser
    keeps a plain line's name as it is and its value without the leading blanks and the line end."""
    message = http.client.HTTPMessage()
    for line in lines[:-1]:
        match = _PLAIN_HEADER.fullmatch(line)
        if match is None or b"\r" in match.group(2) or b"\n" in match.group(2):
            return None
        message[match.group(1).decode("iso-8859-1")] = match.group(2).decode("iso-8859-1")
    message.set_payload("")
    return message


def read_headers(rfile: Any) -> http.client.HTTPMessage:
    """``http.client.parse_headers(rfile)``: the same lines read with the same limits, split directly
    when they are plain (``plain_headers``), else parsed by the email parser as there."""
    lines = []
    while True:
        line = rfile.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        lines.append(line)
        if len(lines) > _MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")
        if line in (b"\r\n", b"\n", b""):
            break
    message = plain_headers(lines) if lines[-1] != b"" else None
    if message is None:
        import email.parser

        message = email.parser.Parser(_class=http.client.HTTPMessage).parsestr(b"".join(lines).decode("iso-8859-1"))
    return message


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


@cache
def _direct_request() -> Any:
    from werkzeug.utils import cached_property

    class DirectRequest(_server_request()):
        """moto's server request for a body already read whole and not a form (see module): its data
        is that body, its form and files empty (what werkzeug makes of a body that is not a form),
        its ``raw_url`` moto's own, kept per host."""

        def __init__(self, environ: dict[str, Any], body: bytes) -> None:
            super().__init__(environ)
            self._body = body

        @property
        def data(self) -> bytes:
            return self._body

        def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False) -> Any:
            return self._body.decode(errors="replace") if as_text else self._body

        @cached_property
        def form(self) -> Any:
            return self.parameter_storage_class()

        @cached_property
        def files(self) -> Any:
            return self.parameter_storage_class()

        @property
        def raw_url(self) -> str:
            environ = self.environ
            return _raw_url(
                environ["wsgi.url_scheme"], environ.get("HTTP_HOST"), environ["SERVER_NAME"], environ["SERVER_PORT"]
            )

    return DirectRequest


@lru_cache(maxsize=64)
def _raw_url(scheme: str, host: str | None, server_name: str, server_port: str) -> str:
    """moto's ``Request.raw_url`` of a request for ``/`` without a query string: what it reads of
    the environ is these four values."""
    environ = {
        "wsgi.url_scheme": scheme,
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "RAW_URI": "/",
        "REQUEST_METHOD": "POST",
    }
    if host is not None:
        environ["HTTP_HOST"] = host
    return _server_request()(environ).raw_url


def call_handler(
    service: str, environ: dict[str, Any], body: bytes | None = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """What moto's Flask view answers for this request: ``convert_to_flask_response`` without Flask.
    ``body``: the request's body when the environ is a direct one (``direct_environ``)."""
    from botocore.exceptions import ClientError
    from moto.moto_api import recorder

    request = _server_request()(environ) if body is None else _direct_request()(environ, body)
    recorder._record_request(request)
    try:  # the request's own URL and headers, as the Flask view passes them (dict(headers) holds the same)
        result = _handler_class(service).dispatch(request)
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
        service = direct_service(self.command, self.path, headers)
        environ = self.direct_environ(body) if service is not None else None
        direct_body = body if environ is not None else None
        if environ is None:
            environ = self.make_environ()
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(length)
            if service is None:
                service = direct_service(self.command, environ["PATH_INFO"], headers)
        try:
            answer = (
                call_app(self.server.app, environ) if service is None else call_handler(service, environ, direct_body)
            )
        except Exception as exc:  # as werkzeug: a 500 answer and the traceback in the log
            from werkzeug.debug.tbtools import DebugTraceback

            self.server.log("error", f"Error on request:\n{DebugTraceback(exc).render_traceback_text()}")
            environ["wsgi.input"] = io.BytesIO(b"")
            answer = call_app(InternalServerError(), environ)
        self._answer(*answer)

    def direct_environ(self, body: bytes) -> dict[str, Any] | None:
        """The environ werkzeug's and moto's ``make_environ`` build for a ``POST /`` request without a
        query string, in one walk of the headers; None for what this does not cover (TLS, a header
        name with ``_``, a form-typed or gzip-encoded body) or an absolute or other path."""
        server = self.server
        if self.path != "/" or self.command != "POST" or server.ssl_context is not None:
            return None
        if not self.client_address or isinstance(self.client_address, str):
            return None  # werkzeug rewrites these first
        from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY

        environ: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": server.multithread,
            "wsgi.multiprocess": server.multiprocess,
            "wsgi.run_once": False,
            "werkzeug.socket": self.connection,
            "SERVER_SOFTWARE": self.server_version,
            "REQUEST_METHOD": "POST",
            "SCRIPT_NAME": "",
            "PATH_INFO": "/",
            "QUERY_STRING": "",
            "REQUEST_URI": "/",
            "RAW_URI": "/",
            "REMOTE_ADDR": self.address_string(),
            "REMOTE_PORT": self.port_integer(),
            "SERVER_NAME": server.server_address[0],
            "SERVER_PORT": str(server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version,
        }
        for name, value in self.headers.items():
            if "_" in name:
                return None  # moto keeps such names' spelling: its own make_environ
            key = name.upper().replace("-", "_")
            value = value.replace("\r\n", "")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = f"HTTP_{key}"
                if key in environ:
                    value = f"{environ[key]},{value}"
            environ[key] = value
        content_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        if content_type in _FORM_TYPES or "HTTP_CONTENT_ENCODING" in environ:
            return None
        environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = {}
        environ["CONTENT_LENGTH"] = str(len(body))
        return environ

    def parse_request(self) -> bool:
        """http.server's ``parse_request`` (Python 3.11), its header block read by ``read_headers``."""
        self.command = None
        self.request_version = version = self.default_request_version
        self.close_connection = True
        requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        self.requestline = requestline
        words = requestline.split()
        if len(words) == 0:
            return False
        if len(words) >= 3:
            version = words[-1]
            try:
                if not version.startswith("HTTP/"):
                    raise ValueError
                base_version_number = version.split("/", 1)[1]
                version_number = base_version_number.split(".")
                if len(version_number) != 2:
                    raise ValueError
                if any(not component.isdigit() for component in version_number):
                    raise ValueError("non digit in http version")
                if any(len(component) > 10 for component in version_number):
                    raise ValueError("unreasonable length http version")
                version_number = int(version_number[0]), int(version_number[1])
            except (ValueError, IndexError):
                self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request version ({version!r})")
                return False
            if version_number >= (1, 1) and self.protocol_version >= "HTTP/1.1":
                self.close_connection = False
            if version_number >= (2, 0):
                self.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, f"Invalid HTTP version ({base_version_number})")
                return False
            self.request_version = version
        if not 2 <= len(words) <= 3:
            self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request syntax ({requestline!r})")
            return False
        command, path = words[:2]
        if len(words) == 2:
            self.close_connection = True
            if command != "GET":
                self.send_error(HTTPStatus.BAD_REQUEST, f"Bad HTTP/0.9 request type ({command!r})")
                return False
        self.command, self.path = command, path
        if self.path.startswith("//"):
            self.path = "/" + self.path.lstrip("/")
        try:
            self.headers = read_headers(self.rfile)
        except http.client.LineTooLong as err:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long", str(err))
            return False
        except http.client.HTTPException as err:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers", str(err))
            return False
        conntype = self.headers.get("Connection", "")
        if conntype.lower() == "close":
            self.close_connection = True
        elif conntype.lower() == "keep-alive" and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        expect = self.headers.get("Expect", "")
        if (
            expect.lower() == "100-continue"
            and self.protocol_version >= "HTTP/1.1"
            and self.request_version >= "HTTP/1.1"
        ):
            return bool(self.handle_expect_100())
        return True

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
