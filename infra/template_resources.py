"""template.yaml's own resource definitions, created on moto (tests, local stack).

There is no second list of tables, buckets or queues anywhere: this module reads the template and
creates each `AWS::DynamoDB::Table`, `AWS::S3::Bucket` and `AWS::SQS::Queue` with the properties the
template gives it (keys, indexes, streams, TTL, notifications, lifecycle, redrive policies), under
deterministic physical names, so local and deployed stacks cannot drift apart. It also reads the
functions (code directory, handler, environment, events) so the local stack can wire triggers the
way the template does.

Public API:
    load_template(path=TEMPLATE_PATH) -> Template                      (parsed once, cached)
    plan_resources(template=None, prefix=..., region=..., ...) -> LocalResources   (no AWS calls)
    create_resources(session=None, template=None, prefix=..., endpoint_url=None, ...) -> LocalResources
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"
DEFAULT_PREFIX = "segments"
DEFAULT_REGION = "us-east-1"
MOTO_ACCOUNT_ID = "123456789012"

TABLE = "AWS::DynamoDB::Table"
BUCKET = "AWS::S3::Bucket"
QUEUE = "AWS::SQS::Queue"
FUNCTION = "AWS::Serverless::Function"
# Not created locally: the front door serves console/dist itself (infra.local_api). A reference to
# the distribution's domain resolves to a placeholder host, so the API's CORS origin stays defined.
DISTRIBUTION = "AWS::CloudFront::Distribution"


# ---------------------------------------------------------------- parsing


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short-form tags (!Ref, !GetAtt, ...) into long form."""


def _construct_intrinsic(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix in ("Ref", "Condition") else f"Fn::{tag_suffix}"
    if tag_suffix == "Condition":
        name = "Condition"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)


@dataclass(frozen=True)
class EventSpec:
    """One entry of a function's `Events` (type as SAM names it: Api, SQS, Schedule, DynamoDB, ...)."""

    name: str
    type: str
    properties: Mapping[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    """An `AWS::Serverless::Function` with Globals applied."""

    logical_id: str
    code_uri: str
    handler: str
    timeout: int
    memory_size: int
    environment: Mapping[str, Any]  # unresolved values (may hold Ref/GetAtt)
    events: tuple[EventSpec, ...]

    @property
    def code_dir(self) -> Path:
        return PROJECT_ROOT / self.code_uri

    @property
    def module_file(self) -> Path:
        """The handler's module file, e.g. functions/api/app.py for `app.lambda_handler`."""
        module, _, _ = self.handler.rpartition(".")
        return self.code_dir / (module.replace(".", "/") + ".py")

    @property
    def handler_name(self) -> str:
        return self.handler.rpartition(".")[2]

    def events_of_type(self, event_type: str) -> list[EventSpec]:
        return [event for event in self.events if event.type == event_type]


@dataclass(frozen=True)
class Template:
    """The parsed template: raw document plus the views the local stack and tests need."""

    path: Path
    document: Mapping[str, Any]

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        return self.document.get("Resources") or {}

    @property
    def parameters(self) -> dict[str, Any]:
        """Parameter name -> default value."""
        return {name: spec.get("Default") for name, spec in (self.document.get("Parameters") or {}).items()}

    def logical_ids(self, resource_type: str) -> list[str]:
        return [lid for lid, res in self.resources.items() if res.get("Type") == resource_type]

    def properties(self, logical_id: str) -> Mapping[str, Any]:
        return self.resources[logical_id].get("Properties") or {}

    @property
    def global_function_properties(self) -> Mapping[str, Any]:
        return (self.document.get("Globals") or {}).get("Function") or {}

    @property
    def functions(self) -> list[FunctionSpec]:
        globals_ = self.global_function_properties
        global_env = ((globals_.get("Environment") or {}).get("Variables")) or {}
        specs = []
        for lid in self.logical_ids(FUNCTION):
            props = self.properties(lid)
            env = {**global_env, **(((props.get("Environment") or {}).get("Variables")) or {})}
            events = tuple(
                EventSpec(name=name, type=event["Type"], properties=event.get("Properties") or {})
                for name, event in (props.get("Events") or {}).items()
            )
            specs.append(
                FunctionSpec(
                    logical_id=lid,
                    code_uri=str(props.get("CodeUri", globals_.get("CodeUri", ""))),
                    handler=str(props.get("Handler", globals_.get("Handler", "app.lambda_handler"))),
                    timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
                    memory_size=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
                    environment=env,
                    events=events,
                )
            )
        return specs

    def function(self, logical_id: str) -> FunctionSpec:
        for spec in self.functions:
            if spec.logical_id == logical_id:
                return spec
        raise KeyError(f"no function {logical_id!r} in {self.path}")


@lru_cache(maxsize=4)
def load_template(path: Path | str = TEMPLATE_PATH) -> Template:
    """Parse template.yaml (CloudFormation short-form tags included). Cached: parse once per process."""
    path = Path(path)
    document = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return Template(path=path, document=document)


def kebab(logical_id: str) -> str:
    """`MainTable` -> `main-table`, `ImportDLQ` -> `import-dlq`."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", logical_id)
    return spaced.lower()


# ---------------------------------------------------------------- resolved resources


@dataclass
class LocalResources:
    """Physical names and addresses of the template's resources on one (moto) endpoint."""

    template: Template
    prefix: str
    region: str
    account_id: str
    endpoint_url: str | None
    names: dict[str, str] = field(default_factory=dict)  # logical id -> table / bucket / queue name
    queue_urls: dict[str, str] = field(default_factory=dict)  # logical id -> queue URL
    stream_arns: dict[str, str] = field(default_factory=dict)  # table logical id -> stream ARN

    # -- lookups
    def name(self, logical_id: str) -> str:
        return self.names[logical_id]

    def queue_url(self, logical_id: str) -> str:
        return self.queue_urls[logical_id]

    def arn(self, logical_id: str) -> str:
        kind = self.template.resources[logical_id]["Type"]
        name = self.names[logical_id]
        if kind == TABLE:
            return f"arn:aws:dynamodb:{self.region}:{self.account_id}:table/{name}"
        if kind == BUCKET:
            return f"arn:aws:s3:::{name}"
        if kind == QUEUE:
            return f"arn:aws:sqs:{self.region}:{self.account_id}:{name}"
        raise KeyError(f"no ARN known for {logical_id} ({kind})")

    @property
    def tables(self) -> dict[str, str]:
        return {lid: self.names[lid] for lid in self.template.logical_ids(TABLE)}

    @property
    def buckets(self) -> dict[str, str]:
        return {lid: self.names[lid] for lid in self.template.logical_ids(BUCKET)}

    @property
    def queues(self) -> dict[str, str]:
        return dict(self.queue_urls)

    @property
    def functions(self) -> list[FunctionSpec]:
        return self.template.functions

    def dead_letter_queue_of(self, queue_logical_id: str) -> str | None:
        """Logical id of the queue's DLQ (from its RedrivePolicy), if any."""
        redrive = self.template.properties(queue_logical_id).get("RedrivePolicy") or {}
        target = redrive.get("deadLetterTargetArn")
        return _referenced_logical_id(target)

    # -- environment
    def env(self, function: str | None = None) -> dict[str, str]:
        """Environment variables a function gets: Globals merged with the function's own, resolved.

        With no function, the Globals' variables only (every resource name; no service name).
        Adds AWS_REGION / AWS_DEFAULT_REGION, and AWS_ENDPOINT_URL when on a local endpoint.
        """
        if function is None:
            globals_ = self.template.global_function_properties
            raw = ((globals_.get("Environment") or {}).get("Variables")) or {}
        else:
            raw = self.template.function(function).environment
        env = {name: str(self.resolve(value)) for name, value in raw.items()}
        env["AWS_REGION"] = self.region
        env["AWS_DEFAULT_REGION"] = self.region
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        return env

    def resolve(self, value: Any) -> Any:
        """Resolve Ref / GetAtt / Sub / Join against these resources and the parameters' defaults."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {key: self.resolve(item) for key, item in value.items()}
        ((key, arg),) = value.items()
        if key == "Ref":
            return self._ref(arg)
        if key == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return self._get_att(logical_id, attribute)
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            return self._sub(text, {k: self.resolve(v) for k, v in variables.items()})
        if key == "Fn::Join":
            separator, items = arg
            return separator.join(str(self.resolve(item)) for item in items)
        return {key: self.resolve(arg)}

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.prefix,
            "AWS::NoValue": None,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.template.parameters:
            return self.template.parameters[name]
        if name in self.queue_urls:
            return self.queue_urls[name]  # Ref of an SQS queue is its URL
        if name in self.names:
            return self.names[name]
        raise KeyError(f"cannot resolve Ref {name!r} locally")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute == "QueueName":
            return self.names[logical_id]
        if attribute == "QueueUrl":
            return self.queue_urls[logical_id]
        if attribute == "StreamArn":
            return self.stream_arns[logical_id]
        if attribute == "RegionalDomainName" and logical_id in self.names:
            return f"{self.names[logical_id]}.s3.{self.region}.amazonaws.com"
        if attribute == "DomainName" and self._type(logical_id) == DISTRIBUTION:
            return f"{kebab(logical_id)}.cloudfront.localhost"
        raise KeyError(f"cannot resolve GetAtt {logical_id}.{attribute} locally")

    def _type(self, logical_id: str) -> str | None:
        return (self.template.resources.get(logical_id) or {}).get("Type")

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token in variables:
                return str(variables[token])
            if "." in token and not token.startswith("AWS::"):
                logical_id, attribute = token.split(".", 1)
                return str(self._get_att(logical_id, attribute))
            return str(self._ref(token))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)


def _referenced_logical_id(value: Any) -> str | None:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        arg = value["Fn::GetAtt"]
        return (arg if isinstance(arg, list) else str(arg).split("."))[0]
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"]
    return None


# ---------------------------------------------------------------- planning and creation


def sqs_queue_url(endpoint_url: str | None, region: str, account_id: str, name: str) -> str:
    """The URL moto gives a queue: AWS-shaped under `mock_aws`, endpoint-based in server mode."""
    base = endpoint_url.rstrip("/") if endpoint_url else f"https://sqs.{region}.amazonaws.com"
    return f"{base}/{account_id}/{name}"


def plan_resources(
    template: Template | None = None,
    *,
    prefix: str = DEFAULT_PREFIX,
    region: str = DEFAULT_REGION,
    account_id: str = MOTO_ACCOUNT_ID,
    endpoint_url: str | None = None,
) -> LocalResources:
    """The names and URLs `create_resources` will use, without calling AWS (for env vars at import)."""
    template = template or load_template()
    resources = LocalResources(
        template=template, prefix=prefix, region=region, account_id=account_id, endpoint_url=endpoint_url
    )
    for kind in (TABLE, BUCKET, QUEUE):
        for lid in template.logical_ids(kind):
            explicit = {TABLE: "TableName", BUCKET: "BucketName", QUEUE: "QueueName"}[kind]
            given = template.properties(lid).get(explicit)
            resources.names[lid] = given if isinstance(given, str) else f"{prefix}-{kebab(lid)}"
    for lid in template.logical_ids(QUEUE):
        resources.queue_urls[lid] = sqs_queue_url(endpoint_url, region, account_id, resources.names[lid])
    for lid in template.logical_ids(TABLE):
        # Placeholder until the table exists; create_resources replaces it with the real stream ARN.
        if template.properties(lid).get("StreamSpecification"):
            resources.stream_arns[lid] = f"{resources.arn(lid)}/stream/pending"
    return resources


def create_resources(
    session: Any = None,
    template: Template | None = None,
    *,
    prefix: str = DEFAULT_PREFIX,
    region: str = DEFAULT_REGION,
    endpoint_url: str | None = None,
    account_id: str = MOTO_ACCOUNT_ID,
) -> LocalResources:
    """Create every table, queue and bucket of the template through `session` (a boto3 Session).

    Queues first (dead-letter queues before the queues that redrive to them), then tables, then
    buckets (their notifications name queues). Returns the resolved `LocalResources`.
    """
    import boto3

    session = session or boto3.Session(region_name=region)
    resources = plan_resources(
        template, prefix=prefix, region=region, account_id=account_id, endpoint_url=endpoint_url
    )
    template = resources.template

    def client(service: str) -> Any:
        return session.client(service, region_name=region, endpoint_url=endpoint_url)

    sqs, dynamodb, s3 = client("sqs"), client("dynamodb"), client("s3")
    for lid in _queues_in_dependency_order(template):
        url = _create_queue(sqs, resources, lid)
        resources.queue_urls[lid] = url
    for lid in template.logical_ids(TABLE):
        stream_arn = _create_table(dynamodb, resources, lid)
        if stream_arn:
            resources.stream_arns[lid] = stream_arn
    for lid in template.logical_ids(BUCKET):
        _create_bucket(s3, resources, lid)
    return resources


def _queues_in_dependency_order(template: Template) -> list[str]:
    ordered: list[str] = []
    pending = template.logical_ids(QUEUE)

    def visit(lid: str, seen: tuple[str, ...] = ()) -> None:
        if lid in ordered or lid in seen:
            return
        redrive = template.properties(lid).get("RedrivePolicy") or {}
        target = _referenced_logical_id(redrive.get("deadLetterTargetArn"))
        if target:
            visit(target, (*seen, lid))
        ordered.append(lid)

    for lid in pending:
        visit(lid)
    return ordered


_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
)


def _create_queue(sqs: Any, resources: LocalResources, lid: str) -> str:
    props = resources.template.properties(lid)
    attributes = {}
    for name in _QUEUE_ATTRIBUTES:
        if name in props:
            value = resources.resolve(props[name])
            attributes[name] = str(value).lower() if isinstance(value, bool) else str(value)
    if "RedrivePolicy" in props:
        redrive = resources.resolve(props["RedrivePolicy"])
        attributes["RedrivePolicy"] = json.dumps(
            {
                "deadLetterTargetArn": redrive["deadLetterTargetArn"],
                "maxReceiveCount": int(redrive["maxReceiveCount"]),
            }
        )
    return sqs.create_queue(QueueName=resources.names[lid], Attributes=attributes)["QueueUrl"]


def _create_table(dynamodb: Any, resources: LocalResources, lid: str) -> str | None:
    props = resources.resolve(copy.deepcopy(dict(resources.template.properties(lid))))
    request: dict[str, Any] = {
        "TableName": resources.names[lid],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = props.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = [
            {"IndexName": gsi["IndexName"], "KeySchema": gsi["KeySchema"], "Projection": gsi["Projection"]}
            for gsi in props["GlobalSecondaryIndexes"]
        ]
    stream = props.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    description = dynamodb.create_table(**request)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=request["TableName"],
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )
    return description.get("LatestStreamArn")


def _create_bucket(s3: Any, resources: LocalResources, lid: str) -> None:
    props = resources.resolve(copy.deepcopy(dict(resources.template.properties(lid))))
    name = resources.names[lid]
    if resources.region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": resources.region})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    encryption = props.get("BucketEncryption")
    if encryption:
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [_encryption_rule(rule) for rule in encryption["ServerSideEncryptionConfiguration"]]
            },
        )
    lifecycle = props.get("LifecycleConfiguration")
    if lifecycle:
        s3.put_bucket_lifecycle_configuration(
            Bucket=name,
            LifecycleConfiguration={"Rules": [_lifecycle_rule(rule) for rule in lifecycle["Rules"]]},
        )
    cors = props.get("CorsConfiguration")
    if cors:
        s3.put_bucket_cors(
            Bucket=name, CORSConfiguration={"CORSRules": [_cors_rule(rule) for rule in cors["CorsRules"]]}
        )
    notifications = props.get("NotificationConfiguration")
    if notifications:
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration=_notification_configuration(notifications)
        )


def _encryption_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's encryption rule shape -> the S3 API's."""
    out: dict[str, Any] = {}
    default = rule.get("ServerSideEncryptionByDefault")
    if default:
        out["ApplyServerSideEncryptionByDefault"] = {
            key: value for key, value in default.items() if key in ("SSEAlgorithm", "KMSMasterKeyID")
        }
    if "BucketKeyEnabled" in rule:
        out["BucketKeyEnabled"] = bool(rule["BucketKeyEnabled"])
    return out


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's lifecycle rule shape -> the S3 API's."""
    out: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule["Status"]}
    out["Filter"] = {"Prefix": rule.get("Prefix", "")}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        days = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    return out


def _cors_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    renames = {
        "AllowedHeaders": "AllowedHeaders",
        "AllowedMethods": "AllowedMethods",
        "AllowedOrigins": "AllowedOrigins",
        "ExposedHeaders": "ExposeHeaders",
        "MaxAge": "MaxAgeSeconds",
    }
    return {api: rule[cfn] for cfn, api in renames.items() if cfn in rule}


def _notification_configuration(config: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's NotificationConfiguration -> the S3 API's (queue targets only are used)."""

    def key_filter(entry: Mapping[str, Any]) -> dict[str, Any]:
        rules = ((entry.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
        if not rules:
            return {}
        return {
            "Filter": {
                "Key": {"FilterRules": [{"Name": r["Name"].lower(), "Value": r["Value"]} for r in rules]}
            }
        }

    out: dict[str, Any] = {}
    queues = config.get("QueueConfigurations") or []
    if queues:
        out["QueueConfigurations"] = [
            {"QueueArn": q["Queue"], "Events": [q["Event"]], **key_filter(q)} for q in queues
        ]
    topics = config.get("TopicConfigurations") or []
    if topics:
        out["TopicConfigurations"] = [
            {"TopicArn": t["Topic"], "Events": [t["Event"]], **key_filter(t)} for t in topics
        ]
    return out
