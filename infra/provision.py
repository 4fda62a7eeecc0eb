"""Create a translated CloudFormation template's resources on a moto server.

A small, strict stand-in for CloudFormation: resources are created in dependency order with
their intrinsic functions resolved, and a resource type it does not know, or a property of a
topic, queue, bucket or table that it does not apply, stops provisioning with a clear message
instead of being skipped silently. Lambda functions and their event
sources are not created on moto (it would need Docker to run them); they are returned as
``LocalFunction`` / ``LocalEventSource`` for the local runtime in infra/stack.py to run.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from infra.template import LOCAL_ACCOUNT_ID


class ProvisioningError(RuntimeError):
    """The template asks for something the local stack cannot build; the message says what."""


# AWS managed policies that only let a function send X-Ray traces (no local equivalent).
XRAY_WRITE_POLICIES = (":policy/AWSXrayWriteOnlyAccess", ":policy/AWSXRayDaemonWriteAccess")


@dataclass(frozen=True)
class LocalFunction:
    """A Lambda function as the local runtime needs it."""

    logical_id: str
    name: str
    handler: str  # module.function, from Handler or the image's ImageConfig.Command
    timeout_s: int
    memory_mb: int
    environment: dict[str, str]


@dataclass(frozen=True)
class LocalEventSource:
    """An SQS -> Lambda event source mapping, for the local poller."""

    logical_id: str
    function: str  # logical id of the function
    queue_url: str
    queue_arn: str
    batch_size: int
    batching_window_s: int
    report_batch_item_failures: bool
    maximum_concurrency: int | None


@dataclass(frozen=True)
class LocalStreamSource:
    """A DynamoDB stream -> Lambda event source mapping, for the local stream poller."""

    logical_id: str
    function: str  # logical id of the function
    stream_arn: str
    batch_size: int
    starting_position: str  # LATEST or TRIM_HORIZON


@dataclass(frozen=True)
class LocalSchedule:
    """An EventBridge schedule -> Lambda target, for the local timer (infra/schedule.py)."""

    logical_id: str
    function: str  # logical id of the function
    expression: str  # rate(1 minute), as the template says


@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    ref: str  # what Ref returns
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class ProvisionedStack:
    """What was created, and what the local runtime must run."""

    stack_name: str
    region: str
    resources: dict[str, Resource]
    outputs: dict[str, str]
    functions: dict[str, LocalFunction]
    event_sources: list[LocalEventSource]
    http_functions: list[str]  # logical ids of functions invoked by API Gateway
    notes: list[str]  # where the local stack differs from AWS, for the console
    stream_sources: list[LocalStreamSource] = field(default_factory=list)
    schedules: list[LocalSchedule] = field(default_factory=list)

    def ref(self, logical_id: str) -> str:
        return self.resources[logical_id].ref


# Served by the local runtime instead (adserver/local_server.py), or meaningless locally.
_RUN_LOCALLY = {
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Stage",
    "AWS::Lambda::Permission",
}


def provision(
    template: Mapping[str, Any],
    session: boto3.session.Session,
    *,
    stack_name: str,
    parameters: Mapping[str, str] | None = None,
    endpoint_url: str | None = None,
) -> ProvisionedStack:
    """Create every resource of a (SAM-translated) CloudFormation template."""
    region = session.region_name or "us-east-1"
    resolver = _Resolver(template, stack_name, region, dict(parameters or {}))
    builder = _Builder(session, endpoint_url, stack_name, region)
    resources_spec: dict[str, Any] = template["Resources"]
    for logical_id in _creation_order(resources_spec):
        spec = resources_spec[logical_id]
        if "Condition" in spec and not resolver.condition(spec["Condition"]):
            continue  # as CloudFormation: a resource whose condition is false is not created
        properties = resolver.resolve(spec.get("Properties", {}))
        resource = builder.create(logical_id, spec["Type"], properties)
        resolver.resources[logical_id] = resource
    outputs = {
        name: str(resolver.resolve(output["Value"]))
        for name, output in template.get("Outputs", {}).items()
        if "Condition" not in output or resolver.condition(output["Condition"])
    }
    return ProvisionedStack(
        stack_name=stack_name,
        region=region,
        resources=resolver.resources,
        outputs=outputs,
        functions=builder.functions,
        event_sources=builder.event_sources,
        http_functions=builder.http_functions,
        notes=builder.notes,
        stream_sources=builder.stream_sources,
        schedules=builder.schedules,
    )


def _creation_order(resources: Mapping[str, Any]) -> list[str]:
    """Logical ids ordered so every resource comes after those it references."""
    dependencies = {
        logical_id: _references(spec.get("Properties", {}), resources)
        | set(_as_list(spec.get("DependsOn")))
        for logical_id, spec in resources.items()
    }
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(logical_id: str) -> None:
        if logical_id in ordered:
            return
        if logical_id in visiting:
            raise ProvisioningError(f"circular dependency through {logical_id}")
        visiting.add(logical_id)
        for dependency in sorted(dependencies[logical_id]):
            if dependency not in resources:
                raise ProvisioningError(f"{logical_id} depends on unknown {dependency}")
            visit(dependency)
        visiting.discard(logical_id)
        ordered.append(logical_id)

    for logical_id in resources:
        visit(logical_id)
    return ordered


_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


def _references(value: Any, resources: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and value["Ref"] in resources:
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(_get_att_parts(value["Fn::GetAtt"])[0])
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            for name in _SUB_VARIABLE.findall(text):
                if name.split(".")[0] in resources:
                    found.add(name.split(".")[0])
        for item in value.values():
            found |= _references(item, resources)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item, resources)
    return found


def _get_att_parts(value: Any) -> tuple[str, str]:
    if isinstance(value, str):
        logical_id, _, attribute = value.partition(".")
        return logical_id, attribute
    return str(value[0]), str(value[1])


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


class _NoValue:
    """AWS::NoValue: the property is dropped."""


class _Resolver:
    """Evaluates the intrinsic functions the template and the SAM transform use."""

    def __init__(
        self, template: Mapping[str, Any], stack_name: str, region: str, parameters: dict[str, str]
    ) -> None:
        self.resources: dict[str, Resource] = {}
        self.values: dict[str, Any] = {
            "AWS::StackName": stack_name,
            "AWS::Region": region,
            "AWS::AccountId": LOCAL_ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": _NoValue(),
        }
        for name, definition in template.get("Parameters", {}).items():
            if name in parameters:
                self.values[name] = parameters[name]
            elif "Default" in definition:
                self.values[name] = str(definition["Default"])
            else:
                raise ProvisioningError(f"parameter {name} has no default and no value")
        unknown = set(parameters) - set(template.get("Parameters", {}))
        if unknown:
            raise ProvisioningError(f"unknown parameters: {', '.join(sorted(unknown))}")
        self._conditions: Mapping[str, Any] = template.get("Conditions", {})

    def condition(self, name: str) -> bool:
        """The value of one of the template's Conditions (Fn::Equals/Not/And/Or/Condition)."""
        if name not in self._conditions:
            raise ProvisioningError(f"unknown condition {name}")
        return self._evaluate(self._conditions[name])

    def _evaluate(self, expression: Any) -> bool:
        ((function, argument),) = expression.items()
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::Equals":
            left, right = (self.resolve(item) for item in argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not self._evaluate(argument[0])
        if function == "Fn::And":
            return all(self._evaluate(item) for item in argument)
        if function == "Fn::Or":
            return any(self._evaluate(item) for item in argument)
        raise ProvisioningError(f"condition function {function} is not supported locally")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if not isinstance(item, _NoValue)]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self._ref(argument)
            if function == "Fn::GetAtt":
                return self._get_att(*_get_att_parts(argument))
            if function == "Fn::Sub":
                return self._sub(argument)
            if function == "Fn::Join":
                separator, items = argument
                return separator.join(str(item) for item in self.resolve(items))
            if function == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text)).split(separator)
            if function == "Fn::If":
                name, when_true, when_false = argument
                return self.resolve(when_true if self.condition(name) else when_false)
            if function == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(self.resolve(index))]
            if function.startswith("Fn::"):
                raise ProvisioningError(f"intrinsic {function} is not supported locally")
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if not isinstance(item, _NoValue)}

    def _ref(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name in self.resources:
            return self.resources[name].ref
        raise ProvisioningError(f"Ref to unknown {name}")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        resource = self.resources.get(logical_id)
        if resource is None:
            raise ProvisioningError(f"GetAtt of unknown resource {logical_id}")
        if attribute not in resource.attributes:
            raise ProvisioningError(f"{logical_id} ({resource.type}) has no attribute {attribute}")
        return resource.attributes[attribute]

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        local = {name: self.resolve(value) for name, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in local:
                return str(local[name])
            if "." in name and name.split(".")[0] in self.resources:
                return self._get_att(*name.split(".", 1))
            return str(self._ref(name))

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")


class _Builder:
    """Creates one resource of each supported type through boto3 clients."""

    def __init__(
        self,
        session: boto3.session.Session,
        endpoint_url: str | None,
        stack_name: str,
        region: str,
    ) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        self.stack_name = stack_name
        self.region = region
        self.functions: dict[str, LocalFunction] = {}
        self.event_sources: list[LocalEventSource] = []
        self.stream_sources: list[LocalStreamSource] = []
        self.schedules: list[LocalSchedule] = []
        self.http_functions: list[str] = []
        self.notes: list[str] = []
        self._queues_by_arn: dict[str, str] = {}
        self._streams: set[str] = set()  # DynamoDB stream ARNs of this stack's tables
        self._creators: dict[str, Callable[[str, dict[str, Any]], Resource]] = {
            "AWS::SNS::Topic": self._topic,
            "AWS::SNS::TopicPolicy": self._topic_policy,
            "AWS::SNS::Subscription": self._subscription,
            "AWS::SQS::Queue": self._queue,
            "AWS::SQS::QueuePolicy": self._queue_policy,
            "AWS::S3::Bucket": self._bucket,
            "AWS::S3::BucketPolicy": self._bucket_policy,
            "AWS::DynamoDB::Table": self._table,
            "AWS::IAM::Role": self._role,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::CloudWatch::Dashboard": self._dashboard,
            "AWS::Lambda::Function": self._function,
            "AWS::Lambda::EventSourceMapping": self._event_source,
            "AWS::Events::Rule": self._schedule,
            "AWS::Glue::Database": self._glue_database,
            "AWS::Glue::Table": self._glue_table,
        }

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self._endpoint_url)
        return self._clients[service]

    def create(self, logical_id: str, type_: str, properties: dict[str, Any]) -> Resource:
        if type_ in _RUN_LOCALLY:
            if type_ == "AWS::Lambda::Permission" and str(
                properties.get("Principal", "")
            ).startswith("apigateway."):
                self.http_functions.append(self._function_logical_id(properties["FunctionName"]))
            return Resource(logical_id, type_, ref=f"local-{logical_id.lower()}")
        creator = self._creators.get(type_)
        if creator is None:
            raise ProvisioningError(
                f"{logical_id}: {type_} is not supported by the local stack (infra/provision.py)"
            )
        unapplied = sorted(set(properties) - _APPLIED_PROPERTIES.get(type_, set(properties)))
        if unapplied:
            raise ProvisioningError(
                f"{logical_id}: {type_} {', '.join(unapplied)} not applied by the local stack;"
                " apply it in infra/provision.py or leave it out of the template"
            )
        return creator(logical_id, properties)

    def generated_name(self, logical_id: str, limit: int = 64) -> str:
        digest = hashlib.sha1(f"{self.stack_name}/{logical_id}".encode()).hexdigest()[:8]
        return f"{self.stack_name}-{logical_id}-{digest}"[-limit:]

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{LOCAL_ACCOUNT_ID}:{resource}"

    # ------------------------------------------------------------------ SNS
    def _topic(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = props.get("TopicName") or self.generated_name(logical_id, 256)
        attributes = {k: str(props[k]) for k in ("KmsMasterKeyId", "DisplayName") if k in props}
        arn = self.client("sns").create_topic(Name=name, Attributes=attributes, Tags=_tags(props))[
            "TopicArn"
        ]
        return Resource(logical_id, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name})

    def _topic_policy(self, logical_id: str, props: dict[str, Any]) -> Resource:
        for topic_arn in props["Topics"]:
            self.client("sns").set_topic_attributes(
                TopicArn=topic_arn,
                AttributeName="Policy",
                AttributeValue=json.dumps(props["PolicyDocument"]),
            )
        return Resource(logical_id, "AWS::SNS::TopicPolicy", logical_id)

    def _subscription(self, logical_id: str, props: dict[str, Any]) -> Resource:
        attributes = {"RawMessageDelivery": _bool_text(props.get("RawMessageDelivery", False))}
        for name in ("FilterPolicy", "RedrivePolicy"):
            if name in props:
                attributes[name] = json.dumps(props[name])
        arn = self.client("sns").subscribe(
            TopicArn=props["TopicArn"],
            Protocol=props["Protocol"],
            Endpoint=props["Endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return Resource(logical_id, "AWS::SNS::Subscription", arn)

    # ------------------------------------------------------------------ SQS
    def _queue(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = props.get("QueueName") or self.generated_name(logical_id, 80)
        attributes: dict[str, str] = {
            key: str(props[key])
            for key in (
                "VisibilityTimeout",
                "MessageRetentionPeriod",
                "DelaySeconds",
                "ReceiveMessageWaitTimeSeconds",
                "MaximumMessageSize",
            )
            if key in props
        }
        if "SqsManagedSseEnabled" in props:
            attributes["SqsManagedSseEnabled"] = _bool_text(props["SqsManagedSseEnabled"])
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        tags = {tag["Key"]: tag["Value"] for tag in _tags(props)}
        url = self.client("sqs").create_queue(QueueName=name, Attributes=attributes, tags=tags)[
            "QueueUrl"
        ]
        arn = self.arn("sqs", name)
        self._queues_by_arn[arn] = url
        return Resource(
            logical_id, "AWS::SQS::Queue", url, {"Arn": arn, "QueueName": name, "QueueUrl": url}
        )

    def _queue_policy(self, logical_id: str, props: dict[str, Any]) -> Resource:
        for url in props["Queues"]:
            self.client("sqs").set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
            )
        return Resource(logical_id, "AWS::SQS::QueuePolicy", logical_id)

    # ------------------------------------------------------------------ S3
    def _bucket(self, logical_id: str, props: dict[str, Any]) -> Resource:
        s3 = self.client("s3")
        name = props.get("BucketName") or self.generated_name(logical_id, 63).lower()
        if self.region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(
                Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region}
            )
        if "BucketEncryption" in props:
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        _encryption_rule(rule)
                        for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                    ]
                },
            )
        if "VersioningConfiguration" in props:
            s3.put_bucket_versioning(
                Bucket=name,
                VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]},
            )
        if "Tags" in props:
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags(props)})
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        if "OwnershipControls" in props:
            s3.put_bucket_ownership_controls(
                Bucket=name, OwnershipControls=props["OwnershipControls"]
            )
        if "LifecycleConfiguration" in props:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name,
                LifecycleConfiguration={
                    "Rules": [
                        _lifecycle_rule(rule) for rule in props["LifecycleConfiguration"]["Rules"]
                    ]
                },
            )
        if "NotificationConfiguration" in props:
            s3.put_bucket_notification_configuration(
                Bucket=name,
                NotificationConfiguration=_notification_configuration(
                    props["NotificationConfiguration"]
                ),
            )
        arn = f"arn:aws:s3:::{name}"
        return Resource(
            logical_id,
            "AWS::S3::Bucket",
            name,
            {"Arn": arn, "DomainName": f"{name}.s3.amazonaws.com"},
        )

    def _bucket_policy(self, logical_id: str, props: dict[str, Any]) -> Resource:
        # moto ignores a statement's Condition, so a conditional Deny (such as the TLS-only
        # rule) would deny every request; such statements are left out, and said so.
        document = dict(props["PolicyDocument"])
        statements = _as_statements(document.get("Statement", []))
        enforceable = [s for s in statements if "Condition" not in s]
        for statement in statements:
            if "Condition" in statement:
                self.notes.append(
                    f"{logical_id}: statement {statement.get('Sid', '?')} has a Condition,"
                    " which moto cannot evaluate; not applied locally"
                )
        if enforceable:
            document["Statement"] = enforceable
            self.client("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(document))
        return Resource(logical_id, "AWS::S3::BucketPolicy", logical_id)

    # ------------------------------------------------------------------ DynamoDB
    def _table(self, logical_id: str, props: dict[str, Any]) -> Resource:
        dynamodb = self.client("dynamodb")
        name = props.get("TableName") or self.generated_name(logical_id, 255)
        arguments: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput"):
            if key in props:
                arguments[key] = props[key]
        if "Tags" in props:
            arguments["Tags"] = _tags(props)
        if "SSESpecification" in props:
            arguments["SSESpecification"] = {
                "Enabled": bool(props["SSESpecification"].get("SSEEnabled", False))
            }
        stream = props.get("StreamSpecification")
        if stream:
            arguments["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": stream["StreamViewType"],
            }
        table = dynamodb.create_table(**arguments)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and _is_true(ttl.get("Enabled")):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        recovery = props.get("PointInTimeRecoverySpecification")
        if recovery:
            enabled = _is_true(recovery.get("PointInTimeRecoveryEnabled", False))
            dynamodb.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": enabled},
            )
        attributes = {"Arn": table["TableArn"]}
        if "LatestStreamArn" in table:
            attributes["StreamArn"] = table["LatestStreamArn"]
            self._streams.add(table["LatestStreamArn"])
        return Resource(logical_id, "AWS::DynamoDB::Table", name, attributes)

    # ------------------------------------------------------------------ IAM and logs
    def _role(self, logical_id: str, props: dict[str, Any]) -> Resource:
        iam = self.client("iam")
        name = props.get("RoleName") or self.generated_name(logical_id, 64)
        role = iam.create_role(
            RoleName=name,
            Path=props.get("Path", "/"),
            AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]),
        )["Role"]
        for policy in props.get("Policies", []):
            iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(policy["PolicyDocument"]),
            )
        for policy_arn in props.get("ManagedPolicyArns", []):
            if ":iam::aws:policy/" in str(policy_arn):
                # moto holds no AWS managed policies unless told to load all of them (slow).
                # X-Ray's grants only the sending of traces, which nothing does locally: left
                # out in silence (it was a note per function on every start); others are noted.
                if not str(policy_arn).endswith(XRAY_WRITE_POLICIES):
                    self.notes.append(f"{logical_id}: AWS managed policy {policy_arn} not attached")
                continue
            iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
        return Resource(
            logical_id, "AWS::IAM::Role", name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}
        )

    def _log_group(self, logical_id: str, props: dict[str, Any]) -> Resource:
        logs = self.client("logs")
        name = props.get("LogGroupName") or self.generated_name(logical_id, 512)
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in props:
            logs.put_retention_policy(
                logGroupName=name, retentionInDays=int(props["RetentionInDays"])
            )
        return Resource(
            logical_id,
            "AWS::Logs::LogGroup",
            name,
            {"Arn": self.arn("logs", f"log-group:{name}:*")},
        )

    def _alarm(self, logical_id: str, props: dict[str, Any]) -> Resource:
        # Created so the template is exercised; moto keeps it but never evaluates it.
        name = props.get("AlarmName") or self.generated_name(logical_id, 255)
        arguments: dict[str, Any] = {"AlarmName": name}
        for key in (
            "AlarmDescription",
            "Namespace",
            "MetricName",
            "Dimensions",
            "Statistic",
            "Period",
            "EvaluationPeriods",
            "Threshold",
            "ComparisonOperator",
            "TreatMissingData",
            "AlarmActions",
            "OKActions",
        ):
            if key in props:
                arguments[key] = props[key]
        for key in ("Period", "EvaluationPeriods"):
            if key in arguments:
                arguments[key] = int(arguments[key])
        if "Threshold" in arguments:
            arguments["Threshold"] = float(arguments["Threshold"])
        self.client("cloudwatch").put_metric_alarm(**arguments)
        return Resource(
            logical_id,
            "AWS::CloudWatch::Alarm",
            name,
            {"Arn": self.arn("cloudwatch", f"alarm:{name}")},
        )

    def _dashboard(self, logical_id: str, props: dict[str, Any]) -> Resource:
        # Created so the template's dashboard body is checked; moto draws nothing.
        name = props.get("DashboardName") or self.generated_name(logical_id, 255)
        self.client("cloudwatch").put_dashboard(
            DashboardName=name, DashboardBody=str(props["DashboardBody"])
        )
        return Resource(logical_id, "AWS::CloudWatch::Dashboard", name)

    # ------------------------------------------------------------------ Lambda (run locally)
    def _function(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = props.get("FunctionName") or self.generated_name(logical_id, 64)
        if props.get("PackageType") == "Image":
            command = props.get("ImageConfig", {}).get("Command") or []
            if len(command) != 1:
                raise ProvisioningError(
                    f"{logical_id}: an image function needs ImageConfig.Command [module.function]"
                    " so the local runtime knows its handler"
                )
            handler = str(command[0])
        else:
            handler = str(props["Handler"])
        variables = props.get("Environment", {}).get("Variables", {})
        self.functions[logical_id] = LocalFunction(
            logical_id=logical_id,
            name=name,
            handler=handler,
            timeout_s=int(props.get("Timeout", 3)),
            memory_mb=int(props.get("MemorySize", 128)),
            environment={key: str(value) for key, value in variables.items()},
        )
        return Resource(
            logical_id,
            "AWS::Lambda::Function",
            name,
            {"Arn": self.arn("lambda", f"function:{name}")},
        )

    def _schedule(self, logical_id: str, props: dict[str, Any]) -> Resource:
        # Only schedules that invoke this stack's functions: the local timer runs them.
        if str(props.get("State", "ENABLED")) == "DISABLED":
            self.notes.append(f"{logical_id} is disabled: no local timer invokes its targets")
            props = {**props, "Targets": []}
        for target in props["Targets"]:
            function_name = str(target["Arn"]).rsplit(":", 1)[-1]
            self.schedules.append(
                LocalSchedule(
                    logical_id=logical_id,
                    function=self._function_logical_id(function_name),
                    expression=str(props["ScheduleExpression"]),
                )
            )
        arn = self.arn("events", f"rule/{logical_id}")
        return Resource(logical_id, "AWS::Events::Rule", logical_id, {"Arn": arn})

    # ------------------------------------------------------------------ Glue
    def _glue_database(self, logical_id: str, props: dict[str, Any]) -> Resource:
        database = dict(props["DatabaseInput"])
        self.client("glue").create_database(DatabaseInput=database)
        return Resource(logical_id, "AWS::Glue::Database", str(database["Name"]))

    def _glue_table(self, logical_id: str, props: dict[str, Any]) -> Resource:
        table = dict(props["TableInput"])
        database = str(props["DatabaseName"])
        self.client("glue").create_table(DatabaseName=database, TableInput=table)
        return Resource(logical_id, "AWS::Glue::Table", str(table["Name"]))

    def _function_logical_id(self, function_name: str) -> str:
        for function in self.functions.values():
            if function_name in (function.name, function.logical_id):
                return function.logical_id
        raise ProvisioningError(f"no function named {function_name}")

    def _event_source(self, logical_id: str, props: dict[str, Any]) -> Resource:
        source_arn = str(props["EventSourceArn"])
        if source_arn in self._streams:
            self.stream_sources.append(
                LocalStreamSource(
                    logical_id=logical_id,
                    function=self._function_logical_id(str(props["FunctionName"])),
                    stream_arn=source_arn,
                    batch_size=int(props.get("BatchSize", 100)),
                    starting_position=str(props.get("StartingPosition", "LATEST")),
                )
            )
            return Resource(logical_id, "AWS::Lambda::EventSourceMapping", logical_id)
        if not _is_true(props.get("Enabled", True)):
            self.notes.append(f"{logical_id} is disabled: nothing polls its queue for the function")
            return Resource(logical_id, "AWS::Lambda::EventSourceMapping", logical_id)
        queue_url = self._queues_by_arn.get(source_arn)
        if queue_url is None:
            raise ProvisioningError(
                f"{logical_id}: only SQS queues of this stack can trigger locally"
            )
        scaling = props.get("ScalingConfig", {})
        self.event_sources.append(
            LocalEventSource(
                logical_id=logical_id,
                function=self._function_logical_id(str(props["FunctionName"])),
                queue_url=queue_url,
                queue_arn=source_arn,
                batch_size=int(props.get("BatchSize", 10)),
                batching_window_s=int(props.get("MaximumBatchingWindowInSeconds", 0)),
                report_batch_item_failures="ReportBatchItemFailures"
                in props.get("FunctionResponseTypes", []),
                maximum_concurrency=(
                    int(scaling["MaximumConcurrency"]) if "MaximumConcurrency" in scaling else None
                ),
            )
        )
        return Resource(logical_id, "AWS::Lambda::EventSourceMapping", logical_id)


# What the creators above apply, per type, for the types whose settings matter to what the
# stack keeps (retention, encryption, recovery, tags for cost). A property of these types
# that is not listed stops provisioning instead of being dropped without a word.
_APPLIED_PROPERTIES: dict[str, set[str]] = {
    "AWS::SNS::Topic": {"TopicName", "KmsMasterKeyId", "DisplayName", "Tags"},
    "AWS::SQS::Queue": {
        "QueueName",
        "VisibilityTimeout",
        "MessageRetentionPeriod",
        "DelaySeconds",
        "ReceiveMessageWaitTimeSeconds",
        "MaximumMessageSize",
        "SqsManagedSseEnabled",
        "RedrivePolicy",
        "Tags",
    },
    "AWS::S3::Bucket": {
        "BucketName",
        "BucketEncryption",
        "VersioningConfiguration",
        "Tags",
        "PublicAccessBlockConfiguration",
        "OwnershipControls",
        "LifecycleConfiguration",
        "NotificationConfiguration",
    },
    "AWS::Events::Rule": {"Description", "ScheduleExpression", "Targets", "State"},
    "AWS::DynamoDB::Table": {
        "TableName",
        "AttributeDefinitions",
        "KeySchema",
        "BillingMode",
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
        "ProvisionedThroughput",
        "SSESpecification",
        "StreamSpecification",
        "TimeToLiveSpecification",
        "PointInTimeRecoverySpecification",
        "Tags",
    },
}


def _tags(props: Mapping[str, Any]) -> list[dict[str, str]]:
    """A resource's CloudFormation Tags as the Key/Value list the APIs take."""
    return [{"Key": str(tag["Key"]), "Value": str(tag["Value"])} for tag in props.get("Tags", [])]


def _as_statements(value: Any) -> list[dict[str, Any]]:
    return [value] if isinstance(value, dict) else list(value)


def _is_true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _bool_text(value: Any) -> str:
    return "true" if _is_true(value) else "false"


def _encryption_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation encryption rule in the shape of the S3 API (the key names differ)."""
    converted = {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
    if "BucketKeyEnabled" in rule:
        converted["BucketKeyEnabled"] = _is_true(rule["BucketKeyEnabled"])
    return converted


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the shape of the S3 API."""
    converted: dict[str, Any] = {"Status": rule["Status"]}
    if "Id" in rule:
        converted["ID"] = rule["Id"]
    converted["Filter"] = {"Prefix": rule.get("Prefix", "")}
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        days = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        converted["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    return converted


def _notification_configuration(config: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's NotificationConfiguration in the shape of the S3 API."""
    converted: dict[str, Any] = {}
    for cfn_key, api_key, target_key, api_target in (
        ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
        ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
        ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
    ):
        entries = []
        for entry in config.get(cfn_key, []):
            api_entry: dict[str, Any] = {api_target: entry[target_key], "Events": [entry["Event"]]}
            rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules")
            if rules:
                api_entry["Filter"] = {"Key": {"FilterRules": rules}}
            entries.append(api_entry)
        if entries:
            converted[api_key] = entries
    return converted
