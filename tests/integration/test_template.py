"""template.yaml: it translates, its code exists, and its resources come up on moto as declared."""

from __future__ import annotations

import ast
import json
from urllib.parse import unquote_plus

import pytest

from infra.lint_template import lint, translate
from infra.template_resources import TEMPLATE_PATH, load_template

ARCHITECTURE_ENV_VARS = {
    "MAIN_TABLE": "MainTable",
    "CONTACTS_TABLE": "ContactsTable",
    "MEMBERSHIPS_TABLE": "MembershipsTable",
    "IDEMPOTENCY_TABLE": "IdempotencyTable",
    "IMPORT_BUCKET": "ImportBucket",
    "DATA_BUCKET": "DataBucket",
    "EXPORT_BUCKET": "ExportBucket",
}


@pytest.fixture(scope="module")
def translated():
    return translate(TEMPLATE_PATH)


def _resources_of_type(document, kind):
    return {lid: res for lid, res in document["Resources"].items() if res["Type"] == kind}


@pytest.mark.parametrize("function", load_template().functions, ids=lambda f: f.logical_id)
def test_every_function_code_uri_holds_its_handler(function):
    assert function.module_file.is_file(), f"{function.logical_id}: {function.module_file} is missing"
    tree = ast.parse(function.module_file.read_text())
    names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert function.handler_name in names


def test_sam_translation_wires_queues_stream_and_schedule(translated):
    mappings = _resources_of_type(translated, "AWS::Lambda::EventSourceMapping").values()
    by_function = {m["Properties"]["FunctionName"]["Ref"]: m["Properties"] for m in mappings}
    for function in ("ImporterFunction", "ExporterFunction", "EvaluatorFunction"):
        assert by_function[function]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    stream = by_function["ContactStreamFunction"]
    assert stream["BisectBatchOnFunctionError"] is True
    assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert stream["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["StreamDLQ", "Arn"]}
    rules = _resources_of_type(translated, "AWS::Events::Rule").values()
    assert [r["Properties"]["ScheduleExpression"] for r in rules] == ["cron(0 * * * ? *)"]
    importer = [m["Properties"] for m in mappings if m["Properties"]["FunctionName"]["Ref"] == "ImporterFunction"]
    sources = {m["EventSourceArn"]["Fn::GetAtt"][0]: m for m in importer}
    assert set(sources) == {"ImportQueue", "ImportChunksQueue"}  # uploads, and a large file's chunks
    assert sources["ImportChunksQueue"]["ScalingConfig"] == {"MaximumConcurrency": 10}


def test_sam_translation_puts_the_request_authorizer_on_the_api(translated):
    body = translated["Resources"]["Api"]["Properties"]["Body"]
    authorizer = body["securityDefinitions"]["ApiKeyAuthorizer"]["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "request"
    assert authorizer["identitySource"] == "method.request.header.X-Api-Key"
    assert body["paths"]["/{proxy+}"]["x-amazon-apigateway-any-method"]["security"] == [
        {"ApiKeyAuthorizer": []}
    ]
    assert body["paths"]["/docs"]["get"]["security"] == [{"NONE": []}]
    responses = body["x-amazon-apigateway-gateway-responses"]
    assert (responses["UNAUTHORIZED"]["statusCode"], responses["ACCESS_DENIED"]["statusCode"]) == (
        "401",
        "403",
    )


def test_lint_catches_a_cycle_that_only_the_translated_template_shows(tmp_path):
    """An S3 -> Lambda trigger on a bucket the function's policy names: fine in source, a cycle after SAM."""
    source = TEMPLATE_PATH.read_text()
    sqs_trigger = source[source.index("        Uploads:\n") : source.index("  EvaluatorFunction:")]
    s3_trigger = "        Uploads:\n          Type: S3\n          Properties:\n"
    s3_trigger += "            Bucket: !Ref DataBucket\n            Events: s3:ObjectCreated:*\n\n"
    cyclic = tmp_path / "template.yaml"
    cyclic.write_text(source.replace(sqs_trigger, s3_trigger))
    assert lint(cyclic) != 0


def test_created_tables_follow_the_key_design(aws, dynamodb):
    contacts = dynamodb.describe_table(TableName=aws.name("ContactsTable"))["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in contacts["KeySchema"]} == {"pk": "HASH", "sk": "RANGE"}
    assert contacts["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert [g["IndexName"] for g in contacts["GlobalSecondaryIndexes"]] == ["by_updated"]
    assert contacts["LatestStreamArn"] == aws.stream_arns["ContactsTable"]
    memberships = dynamodb.describe_table(TableName=aws.name("MembershipsTable"))["Table"]
    assert [g["IndexName"] for g in memberships["GlobalSecondaryIndexes"]] == ["by_contact"]
    ttl = dynamodb.describe_time_to_live(TableName=aws.name("IdempotencyTable"))["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiration"}


def test_environment_names_every_documented_resource(aws):
    env = aws.env("ApiFunction")
    for variable, logical_id in ARCHITECTURE_ENV_VARS.items():
        assert env[variable] == aws.name(logical_id)
    assert env["JOBS_QUEUE_URL"] == aws.queue_url("JobsQueue")
    assert env["EVALUATE_QUEUE_URL"] == aws.queue_url("EvaluateQueue")
    assert env["POWERTOOLS_SERVICE_NAME"] == "api"


def test_upload_under_tenants_is_announced_on_the_import_queue(aws, s3, sqs):
    url = aws.queue_url("ImportQueue")
    sqs.purge_queue(QueueUrl=url)  # drop the s3:TestEvent moto sends on configuration
    s3.put_object(Bucket=aws.name("ImportBucket"), Key="elsewhere/a.csv", Body=b"x")
    s3.put_object(Bucket=aws.name("ImportBucket"), Key="tenants/t1/imports/j1/my list.csv", Body=b"x")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    keys = [unquote_plus(json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"]) for m in messages]
    assert keys == ["tenants/t1/imports/j1/my list.csv"]


def test_exports_expire_after_seven_days(aws, s3):
    rules = s3.get_bucket_lifecycle_configuration(Bucket=aws.name("ExportBucket"))["Rules"]
    assert [(r["Filter"]["Prefix"], r["Expiration"]["Days"]) for r in rules] == [("tenants/", 7)]


@pytest.mark.parametrize("queue", ["ImportQueue", "ImportChunksQueue", "JobsQueue", "EvaluateQueue"])
def test_a_message_received_three_times_moves_to_its_dead_letter_queue(aws, sqs, queue):
    url = aws.queue_url(queue)
    sqs.purge_queue(QueueUrl=url)
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    for _ in range(3):
        [message] = sqs.receive_message(QueueUrl=url)["Messages"]
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    dlq_url = aws.queue_url(aws.dead_letter_queue_of(queue))
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=dlq_url)["Messages"]] == ["poison"]


def test_layer_requirements_mirror_the_pinned_runtime_dependencies():
    """The layer ships exactly pyproject's runtime pins, minus boto3 (the Lambda runtime provides it)."""
    import tomllib

    from infra.template_resources import PROJECT_ROOT

    pinned = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    requirements = (PROJECT_ROOT / "layers" / "audience" / "requirements.txt").read_text().splitlines()
    shipped = [line.strip() for line in requirements if line.strip() and not line.startswith("#")]
    assert sorted(shipped) == sorted(p for p in pinned if not p.startswith("boto3"))
