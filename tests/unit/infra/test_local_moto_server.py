"""The local moto server's request handler: the same answers as moto's own handler, on kept-alive
connections, DynamoDB's requests without moto's dispatcher."""

from __future__ import annotations

import http.client
import io
import threading
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from botocore.config import Config
from hypothesis import given
from hypothesis import strategies as st
from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from infra.local_moto import make_local_server
from infra.local_moto_server import LocalRequestHandler, direct_service
from tests.unit.infra.conftest import create_pk_sk_table

SIGNED = "AWS4-HMAC-SHA256 Credential=k/20261206/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=x"


class Server:
    """An in-process moto server with the given handler; counts new connections and dispatcher calls."""

    def __init__(self, handler: Any) -> None:
        self.server = make_local_server("127.0.0.1", 0, handler)
        self.connections = 0
        self.dispatched = 0
        accept = self.server.process_request
        dispatcher: DomainDispatcherApplication = self.server.app.app

        def counted_accept(request: Any, address: Any) -> None:
            self.connections += 1
            accept(request, address)

        def counted_app(environ: dict[str, Any], start_response: Any) -> Any:
            self.dispatched += 1
            return dispatcher(environ, start_response)

        self.server.process_request = counted_accept
        self.server.app.app = counted_app
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        host, port = self.server.server_address[:2]
        self.url = f"http://{host}:{port}"

    def client(self, service: str) -> Any:
        return boto3.client(
            service, region_name="us-east-1", endpoint_url=self.url, config=Config(retries={"max_attempts": 1})
        )

    def close(self) -> None:
        if self.server.socket.fileno() < 0:
            return
        requests.post(f"{self.url}/moto-api/reset", timeout=10)
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    started: list[Server] = []

    def start(handler: Any = LocalRequestHandler) -> Server:
        started.append(Server(handler))
        return started[-1]

    yield start
    for server in started:
        server.close()


def _without_metadata(answer: Any) -> Any:
    """Without what differs between two runs on one moto (request ids, times, stream sequence numbers
    and the record sizes that count their digits)."""
    if isinstance(answer, dict):
        return {
            k: _without_metadata(v)
            for k, v in answer.items()
            if k
            not in (
                "ResponseMetadata",
                "ApproximateCreationDateTime",
                "eventID",
                "SequenceNumber",
                "SizeBytes",
                "NextShardIterator",
            )
        }
    if isinstance(answer, list):
        return [_without_metadata(v) for v in answer]
    return answer


def _conversation(server: Server) -> list[Any]:
    """DynamoDB writes, reads, errors and a stream read; S3 and SQS through moto's app."""
    ddb, streams, s3, sqs = (server.client(s) for s in ("dynamodb", "dynamodbstreams", "s3", "sqs"))
    stream_arn = create_pk_sk_table(ddb, stream=True)["LatestStreamArn"]
    item = {
        "pk": {"S": "t1"},
        "sk": {"S": "a"},
        "n": {"N": "1.5"},
        "b": {"B": b"\x00\xff"},
        "m": {"M": {"x": {"L": []}}},
    }
    answers: list[Any] = [
        ddb.put_item(TableName="t", Item=item, ReturnConsumedCapacity="TOTAL"),
        ddb.batch_write_item(
            RequestItems={
                "t": [
                    {"PutRequest": {"Item": {"pk": {"S": "t1"}, "sk": {"S": f"m{i:02d}"}, "ok": {"BOOL": True}}}}
                    for i in range(25)
                ]
            }
        ),
        ddb.update_item(
            TableName="t",
            Key={"pk": {"S": "t1"}, "sk": {"S": "a"}},
            UpdateExpression="SET #v = :v",
            ExpressionAttributeNames={"#v": "v"},
            ExpressionAttributeValues={":v": {"S": "é"}},
            ReturnValues="ALL_NEW",
        ),
        ddb.query(
            TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "t1"}}, Limit=7
        ),
        ddb.get_item(TableName="t", Key={"pk": {"S": "t1"}, "sk": {"S": "a"}}),
    ]
    for call in (
        lambda: ddb.put_item(TableName="t", Item=item, ConditionExpression="attribute_not_exists(pk)"),
        lambda: ddb.transact_write_items(
            TransactItems=[{"Put": {"TableName": "t", "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}]
        ),
        lambda: ddb.get_item(TableName="missing", Key={"pk": {"S": "t1"}, "sk": {"S": "a"}}),
    ):
        with pytest.raises(ddb.exceptions.ClientError) as refused:
            call()
        answers.append(refused.value.response)
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    answers.append(streams.get_records(ShardIterator=iterator["ShardIterator"]))
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="k", Body=b"x" * 1000)
    answers += [
        s3.head_object(Bucket="bkt", Key="k")["ContentLength"],
        s3.get_object(Bucket="bkt", Key="k")["Body"].read(),
    ]
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    answers.append([m["Body"] for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]])
    return _without_metadata(answers)


def test_answers_are_the_same_as_moto_handler_gives(serve):
    own = serve(MotoRequestHandler)
    expected = _conversation(own)
    own.close()
    assert _conversation(serve()) == expected


def test_dynamodb_requests_share_one_kept_alive_connection(serve):
    server = serve()
    ddb = server.client("dynamodb")
    for _ in range(20):
        ddb.list_tables()
    assert server.connections == 1


def test_dynamodb_requests_skip_moto_dispatcher_and_others_go_through_it(serve):
    server = serve()
    ddb, s3 = server.client("dynamodb"), server.client("s3")
    for _ in range(5):
        ddb.list_tables()
    assert server.dispatched == 0
    s3.list_buckets()
    assert server.dispatched == 1


def test_a_chunked_upload_keeps_werkzeug_handling_and_its_body(serve):
    server = serve()
    server.client("s3").create_bucket(Bucket="bkt")
    body = [b"line %d\n" % i for i in range(100)]
    answer = requests.put(f"{server.url}/bkt/k", data=iter(body), timeout=10)  # Transfer-Encoding: chunked
    assert answer.status_code == 200
    assert server.client("s3").get_object(Bucket="bkt", Key="k")["Body"].read() == b"".join(body)


def test_head_answer_has_no_body_and_the_connection_serves_the_next_request(serve):
    server = serve()
    s3 = server.client("s3")
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="k", Body=b"x" * 1000)
    head_url, get_url = (
        urlsplit(s3.generate_presigned_url(operation, Params={"Bucket": "bkt", "Key": "k"}))
        for operation in ("head_object", "get_object")
    )
    connection = http.client.HTTPConnection(*server.server.server_address[:2])
    connection.request("HEAD", f"{head_url.path}?{head_url.query}")
    head = connection.getresponse()
    assert (head.status, head.getheader("Content-Length"), head.read()) == (200, "1000", b"")
    connection.request("GET", f"{get_url.path}?{get_url.query}")
    assert connection.getresponse().read() == b"x" * 1000


@pytest.mark.parametrize(
    ("method", "path", "headers", "service"),
    [
        (
            "POST",
            "/",
            {"X-Amz-Target": "DynamoDB_20120810.Query", "Authorization": SIGNED.format("dynamodb")},
            "dynamodb",
        ),
        (
            "POST",
            "/",
            {"X-Amz-Target": "DynamoDBStreams_20120810.GetRecords", "Authorization": SIGNED.format("dynamodb")},
            "dynamodbstreams",
        ),
        ("POST", "/", {"X-Amz-Target": "DynamoDB_20111205.Query", "Authorization": SIGNED.format("dynamodb")}, None),
        ("POST", "/", {"X-Amz-Target": "DynamoDB_20120810.Query", "Authorization": SIGNED.format("s3")}, None),
        ("POST", "/", {"X-Amz-Target": "DynamoDB_20120810.Query"}, None),
        (
            "POST",
            "/",
            {
                "X-Amz-Target": "DynamoDB_20120810.Query",
                "Authorization": SIGNED.format("dynamodb"),
                "Origin": "http://x",
            },
            None,
        ),
        ("POST", "/x", {"X-Amz-Target": "DynamoDB_20120810.Query", "Authorization": SIGNED.format("dynamodb")}, None),
        ("GET", "/", {"X-Amz-Target": "DynamoDB_20120810.Query", "Authorization": SIGNED.format("dynamodb")}, None),
        ("POST", "/", {"X-Amz-Target": "AmazonSQS.ReceiveMessage", "Authorization": SIGNED.format("sqs")}, None),
    ],
)
def test_only_signed_dynamodb_json_requests_take_the_direct_route(method, path, headers, service):
    assert direct_service(method, path, headers) == service


class EnvironsCompared(LocalRequestHandler):
    """Records, for each direct request, its direct environ beside werkzeug's and moto's own."""

    seen: list[tuple[Any, Any]] = []

    def direct_environ(self, body: bytes) -> Any:
        direct = super().direct_environ(body)
        if direct is not None:
            own = self.make_environ()
            own["CONTENT_LENGTH"] = str(len(body))
            EnvironsCompared.seen.append((dict(direct), own))
        return direct


def test_direct_environ_is_what_werkzeug_and_moto_build(serve):
    EnvironsCompared.seen = []
    server = serve(EnvironsCompared)
    ddb, streams = server.client("dynamodb"), server.client("dynamodbstreams")
    create_pk_sk_table(ddb, stream=True)
    ddb.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"S": "b"}})
    streams.list_streams()
    assert len(EnvironsCompared.seen) == 3
    for direct, own in EnvironsCompared.seen:
        assert {k: v for k, v in direct.items() if k != "wsgi.input"} == {
            k: v for k, v in own.items() if k != "wsgi.input"
        }


def _setup_of(request: Any, service: str) -> dict[str, Any]:
    """The attributes moto's ``setup_class`` gives the service's handler for this request."""
    from infra.local_moto_server import _handler_class

    handler = _handler_class(service)()
    handler.setup_class(request)
    state = dict(vars(handler))
    state["headers"] = dict(state["headers"])
    state.pop("normalized_request")
    return state


@pytest.mark.parametrize(
    ("service", "target", "body"),
    [
        ("dynamodb", "DynamoDB_20120810.UpdateItem", b'{"TableName": "t", "UpdateExpression": "SET #a = :b"}'),
        ("dynamodb", "DynamoDB_20120810.Query", b'{"TableName": "t&x=1", "x": "a+b%41"}'),
        ("dynamodb", "DynamoDB_20120810.GetItem", b""),
        ("dynamodbstreams", "DynamoDBStreams_20120810.GetRecords", b'{"ShardIterator": "i", "Limit": 5}'),
    ],
)
def test_direct_request_sets_up_moto_handler_as_moto_own_request(service, target, body, monkeypatch):
    from infra.local_moto_server import _direct_request, _server_request

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    environ = {
        "wsgi.url_scheme": "http",
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "RAW_URI": "/",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "4555",
        "HTTP_HOST": "dynamodb.eu-west-3.amazonaws.com",
        "CONTENT_TYPE": "application/x-amz-json-1.0",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_AMZ_TARGET": target,
        "HTTP_AUTHORIZATION": SIGNED.format("dynamodb"),
    }
    own = _server_request()({**environ, "wsgi.input": io.BytesIO(body)})
    direct = _direct_request()({**environ, "wsgi.input": io.BytesIO(body)}, body)
    assert direct.raw_url == own.raw_url
    assert _setup_of(direct, service) == _setup_of(own, service)


def test_dynamodb_requests_are_answered_without_werkzeug_environ_url_or_form(serve):
    from werkzeug.wrappers import Request as WerkzeugRequest

    server = serve()
    ddb = server.client("dynamodb")
    create_pk_sk_table(ddb)
    read = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(MotoRequestHandler, "make_environ", lambda self: read.append("environ") or 1 / 0)
        patch.setattr(WerkzeugRequest, "_load_form_data", lambda self: read.append("form") or 1 / 0)
        patch.setattr(WerkzeugRequest, "url_root", property(lambda self: read.append("url") or 1 / 0))
        ddb.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"S": "b"}})
        answer = ddb.get_item(TableName="t", Key={"pk": {"S": "a"}, "sk": {"S": "b"}})
    assert answer["Item"]["sk"] == {"S": "b"}
    assert read == []


def _parsed_alike(message: Any) -> Any:
    return message._headers, message.get_payload(), [type(d) for d in message.defects], message.get_unixfrom()


BOTOCORE_BLOCK = (
    b"Host: 127.0.0.1:4555\r\nAccept-Encoding: identity\r\nX-Amz-Target: DynamoDB_20120810.UpdateItem\r\n"
    b"Content-Type: application/x-amz-json-1.0\r\nUser-Agent: Boto3/1.35 md/Botocore#1.35 ua/2.0\r\n"
    b"X-Amz-Date: 20261207T053000Z\r\nAuthorization: AWS4-HMAC-SHA256 Credential=k/20261206/us-east-1/dynamodb/"
    b"aws4_request, SignedHeaders=host, Signature=ab\r\namz-sdk-request: attempt=1\r\nContent-Length: 170\r\n\r\n"
)


@pytest.mark.parametrize(
    "block",
    [
        BOTOCORE_BLOCK,
        b"\r\n",
        b"",
        b"A: 1\r\nA: 2\r\nB:\r\nC:\t x \r\nD: caf\xe9\n\n",
        b"A: 1\r\n continued\r\n\r\n",
        b"From me\r\nA: 1\r\n\r\n",
        b": empty name\r\n\r\n",
        b"A: x\ry\r\n\r\n",
        b"A: x\r\r\n\r\n",
        b"Bad line\r\nA: 1\r\n\r\n",
        b"A: 1\r\nno end",
        b"A: 1\r\n\r\nbody: not a header\r\n",
    ],
)
def test_request_headers_read_as_http_client_parses_them(block):
    from infra.local_moto_server import read_headers

    ours, theirs = io.BytesIO(block), io.BytesIO(block)
    assert _parsed_alike(read_headers(ours)) == _parsed_alike(http.client.parse_headers(theirs))
    assert ours.tell() == theirs.tell()


@given(st.lists(st.text(alphabet="Ab-_: \t\r\n\x80é=", max_size=12), max_size=6))
def test_any_header_block_is_read_as_http_client_parses_it(lines):
    from infra.local_moto_server import read_headers

    block = "".join(line + "\r\n" for line in lines).encode("utf-8") + b"\r\n"
    assert _parsed_alike(read_headers(io.BytesIO(block))) == _parsed_alike(http.client.parse_headers(io.BytesIO(block)))


def test_botocore_request_headers_are_split_without_the_email_parser(serve, monkeypatch):
    server = serve()
    ddb = server.client("dynamodb")
    parsed_on_server = []
    parse = http.client.parse_headers

    def counted(fp: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is not threading.main_thread():
            parsed_on_server.append(fp)
        return parse(fp, *args, **kwargs)

    monkeypatch.setattr(http.client, "parse_headers", counted)
    create_pk_sk_table(ddb)
    ddb.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"S": "b"}})
    assert ddb.get_item(TableName="t", Key={"pk": {"S": "a"}, "sk": {"S": "b"}})["Item"]["sk"] == {"S": "b"}
    assert parsed_on_server == []
