"""shared/events: one sample per trigger, readable by the Powertools data class of that trigger."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import (
    APIGatewayProxyEvent,
    DynamoDBStreamEvent,
    EventBridgeEvent,
    SQSEvent,
)
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
)

EVENTS = Path(__file__).resolve().parents[3] / "shared" / "events"


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def test_api_proxy_sample_carries_the_authorizer_tenant():
    event = APIGatewayProxyEvent(load("api_proxy_create_segment.json"))
    assert (event.http_method, event.path) == ("POST", "/segments")
    assert event.request_context.authorizer["tenant_id"] == "acme"
    assert json.loads(event.body)["type"] == "dynamic"


def test_authorizer_sample_has_the_key_header_and_method_arn():
    event = APIGatewayAuthorizerRequestEvent(load("authorizer_request.json"))
    assert event.headers["X-Api-Key"].startswith("sk_acme_")
    assert event.method_arn.endswith("/v1/POST/segments")


def test_import_sample_is_an_s3_notification_inside_an_sqs_message():
    [record] = SQSEvent(load("sqs_import_s3_object_created.json")).records
    notification = json.loads(record.body)["Records"][0]
    assert notification["eventName"].startswith("ObjectCreated")
    assert unquote_plus(notification["s3"]["object"]["key"]).endswith("/spring leads.csv")
    [test_event] = SQSEvent(load("sqs_import_s3_test_event.json")).records
    assert json.loads(test_event.body)["Event"] == "s3:TestEvent"


def test_schedule_and_queue_samples():
    assert EventBridgeEvent(load("schedule_evaluator.json")).detail_type == "Scheduled Event"
    [job] = SQSEvent(load("sqs_job_export.json")).records
    assert set(json.loads(job.body)) == {"tenant_id", "job_id", "kind"}
    [evaluate] = SQSEvent(load("sqs_evaluate_segments.json")).records
    assert json.loads(evaluate.body)["tenant_id"] == "acme"


def test_stream_sample_has_insert_modify_remove_with_images():
    records = list(DynamoDBStreamEvent(load("dynamodb_stream_contacts.json")).records)
    assert [r.event_name.name for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert records[1].dynamodb.new_image["fields"]["score"] == 85
    assert records[2].dynamodb.new_image == {}
    # the view type ContactsTable's stream has in template.yaml: contact_stream reads no old image
    assert {r.dynamodb.stream_view_type.name for r in records} == {"NEW_IMAGE"}
    assert not any(r.dynamodb.old_image for r in records)
