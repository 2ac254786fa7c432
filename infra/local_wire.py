"""The local stack's BatchWriteItem sent as DynamoDB's wire request: its JSON body written once,
signed, and sent on the botocore client's own HTTP session.

Installed only by the local stack (``install``, from ``infra.localstack.start``), in place of
``audience.storage.batch.send_batch``: on AWS the functions keep botocore's client call, with its
retry modes, endpoint rules, user agent and tracing hooks. The local stack runs every function and
poller in one process beside moto's, on the same cores, and a run's first write of a segment sends
thousands of BatchWriteItem requests (the demo's first run ~4,800 of 25 items). Through botocore's
client each cost the writer ~1.4 ms of CPU — parameter hooks, endpoint rules, the serializer, the
request built and prepared twice, the answer walked along its shape, the retry bookkeeping — for a
request whose whole wire form is one POST of a JSON body with
``X-Amz-Target: DynamoDB_20120810.BatchWriteItem``, signed with SigV4 (DynamoDB's JSON protocol, 1.0).
This module builds exactly that and nothing else:

- the body is ``json.dumps`` of the request (items are DynamoDB JSON already); a request holding a
  value JSON cannot write as it is (binary ``B``/``BS`` values, sets, decimals) is not sent here and
  goes through the client (``WireSender.body`` answers None);
- it is signed by botocore's own SigV4 signer with the client's credentials, region and the
  service's signing name;
- it goes through the client's ``before-send`` handlers first, as botocore sends every request (an
  in-process moto answers there; pynamodb adds its extra headers there), then on the client's own
  HTTP session (its connection pool, proxies and timeouts);
- the answer is read with ``json.loads``; a throttled, failed (5xx) or broken (connection, crc32
  mismatch) attempt is sent again with backoff, as botocore's standard retry mode does, and any
  other error raises ``ClientError`` with DynamoDB's code and message, as the client raised it.
"""

from __future__ import annotations

import json
import random
import time
import weakref
import zlib
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, _urljoin
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

TARGET = "DynamoDB_20120810.BatchWriteItem"
CONTENT_TYPE = "application/x-amz-json-1.0"
ATTEMPTS = 6  # what the client tried (pynamodb's retry configuration: 1 + 5 retries)
# codes botocore's standard retry mode sends again (throttling, and DynamoDB's transient ones)
RETRIED_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
    }
)


class _NotPlain(TypeError):
    pass


def _refuse(value: Any) -> Any:
    raise _NotPlain(type(value).__name__)


class WireSender:
    """Sends BatchWriteItem requests for one botocore DynamoDB client (thread-safe: the client's
    session and credentials are; each request is signed on its own)."""

    def __init__(self, client: Any, http_session: Any) -> None:
        self.client = client
        self.http = http_session
        self.url = _urljoin(client.meta.endpoint_url, "/", None)  # as botocore joins an operation's "/" to it
        self.region = client.meta.region_name
        model = client.meta.service_model
        self.signing_name = model.signing_name
        self.event = f"before-send.{model.service_id.hyphenize()}.BatchWriteItem"
        self.credentials = client._request_signer._credentials  # noqa: SLF001 - the client's own, refreshed by botocore

    @classmethod
    def of(cls, client: Any) -> WireSender | None:
        """A sender for this client, or None when it is not a botocore DynamoDB client with signing
        credentials and an HTTP session (the caller then uses the client itself)."""
        meta = getattr(client, "meta", None)
        endpoint = getattr(client, "_endpoint", None)
        signer = getattr(client, "_request_signer", None)
        if meta is None or endpoint is None or signer is None or getattr(signer, "_credentials", None) is None:
            return None
        model = getattr(meta, "service_model", None)
        if model is None or model.metadata.get("targetPrefix") != "DynamoDB_20120810":
            return None
        http = getattr(endpoint, "http_session", None)
        return None if http is None else cls(client, http)

    @staticmethod
    def body(table: str, requests: list[dict[str, Any]]) -> bytes | None:
        """The wire body of a BatchWriteItem of ``requests`` into ``table``, or None when a value in
        them is not plain JSON (botocore would encode it: the caller sends through the client)."""
        try:
            text = json.dumps({"RequestItems": {table: requests}}, default=_refuse)
        except (_NotPlain, ValueError):
            return None
        return text.encode("utf-8")

    def send(self, body: bytes) -> dict[str, Any]:
        """One BatchWriteItem (retried as the client retried it); its answer as DynamoDB's JSON."""
        for attempt in range(ATTEMPTS):
            last = attempt == ATTEMPTS - 1
            try:
                status, answer = self._attempt(body)
            except (HTTPClientError, BotocoreConnectionError, _Corrupt):  # as the standard mode retries them
                if last:
                    raise
            else:
                if status < 300:
                    return answer
                code = str(answer.get("__type", "")).rsplit("#", 1)[-1] or f"HTTP {status}"
                if last or not (status >= 500 or code in RETRIED_CODES):
                    message = answer.get("message") or answer.get("Message") or ""
                    raise ClientError(
                        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
                        "BatchWriteItem",
                    )
            time.sleep(min(20.0, random.random() * 2**attempt))  # botocore's standard mode: full jitter
        raise AssertionError("unreachable")

    def _attempt(self, body: bytes) -> tuple[int, dict[str, Any]]:
        request = AWSRequest(
            method="POST", url=self.url, data=body, headers={"X-Amz-Target": TARGET, "Content-Type": CONTENT_TYPE}
        )
        SigV4Auth(self.credentials.get_frozen_credentials(), self.signing_name, self.region).add_auth(request)
        prepared = request.prepare()
        response = next(
            (answer for _, answer in self.client.meta.events.emit(self.event, request=prepared) if answer is not None),
            None,
        )
        if response is None:
            response = self.http.send(prepared)
        content = response.content
        checksum = response.headers.get("x-amz-crc32")
        if checksum is not None and zlib.crc32(content) & 0xFFFFFFFF != int(checksum):
            raise _Corrupt()
        try:
            answer = json.loads(content) if content else {}
        except ValueError:
            answer = {}
        return response.status_code, answer if isinstance(answer, dict) else {}


class _Corrupt(BotoCoreError):
    """An answer whose body does not match its crc32 (sent again, as botocore does)."""

    fmt = "DynamoDB crc32 checksum does not match"


_senders: weakref.WeakKeyDictionary[Any, WireSender | None] = weakref.WeakKeyDictionary()
_client_send: Any = None  # batch.send_batch as the layer defines it, while installed


def _send_batch(client: Any, table: str, requests: list[dict[str, Any]]) -> dict[str, Any]:
    """``batch.send_batch`` on the local stack: the wire request when the client and the requests
    allow it, else the client's call."""
    try:
        sender = _senders[client]
    except KeyError:
        sender = _senders[client] = WireSender.of(client)
    body = sender.body(table, requests) if sender is not None else None
    return _client_send(client, table, requests) if body is None else sender.send(body)


def install() -> None:
    """Send the layer's batch writes as wire requests in this process (the local stack's)."""
    global _client_send
    from audience.storage import batch

    if _client_send is None:
        _client_send, batch.send_batch = batch.send_batch, _send_batch


def uninstall() -> None:
    global _client_send
    from audience.storage import batch

    if _client_send is not None:
        batch.send_batch, _client_send = _client_send, None
