"""template.yaml: lint-clean, translatable, and saying what the pipeline relies on."""

from __future__ import annotations

import pytest
from cfnlint.api import lint_file

from infra.template import TEMPLATE_PATH, load_template, translate


@pytest.fixture(scope="module")
def resources():
    return translate(load_template(), {"Stage": "local"})["Resources"]


def test_cfn_lint_is_clean():
    # Warnings and informational findings count too: the template must be spotless.
    assert [str(match) for match in lint_file(TEMPLATE_PATH)] == []


def test_the_sam_transform_yields_the_functions_their_trigger_and_the_http_api(resources):
    types = {name: resource["Type"] for name, resource in resources.items()}
    assert types["InferenceFunction"] == "AWS::Lambda::Function"
    assert types["InferenceFunctionFrameJobs"] == "AWS::Lambda::EventSourceMapping"
    assert types["AdServerApi"] == "AWS::ApiGatewayV2::Api"


def test_the_inference_function_is_a_container_image_with_partial_batch_responses(resources):
    function = resources["InferenceFunction"]["Properties"]
    trigger = resources["InferenceFunctionFrameJobs"]["Properties"]
    assert function["PackageType"] == "Image"
    assert function["ImageConfig"]["Command"] == ["lambdas.inference.handler.lambda_handler"]
    assert trigger["EventSourceArn"] == {"Fn::GetAtt": ["JobsQueue", "Arn"]}
    assert trigger["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert trigger["BatchSize"] >= 1 and "MaximumBatchingWindowInSeconds" in trigger


def test_the_queue_outlasts_six_function_timeouts_and_dead_letters_after_five(resources):
    queue = resources["JobsQueue"]["Properties"]
    timeout = resources["InferenceFunction"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * timeout
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }


def test_the_bucket_is_private_encrypted_tls_only_and_expires_frames(resources):
    bucket = resources["FramesBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    [rule] = bucket["LifecycleConfiguration"]["Rules"]
    assert (rule["Prefix"], rule["ExpirationInDays"], rule["Status"]) == ("frames/", 1, "Enabled")
    [statement] = resources["FramesBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_new_frames_notify_the_topic_which_feeds_the_queue(resources):
    [notification] = resources["FramesBucket"]["Properties"]["NotificationConfiguration"][
        "TopicConfigurations"
    ]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "frames/"}]
    subscription = resources["JobsSubscription"]["Properties"]
    assert subscription["Protocol"] == "sqs"
    assert subscription["Endpoint"] == {"Fn::GetAtt": ["JobsQueue", "Arn"]}


def test_observations_expire_by_ttl(resources):
    table = resources["ObservationsTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["camera_key", "captured_at_ms"]


def test_each_function_has_its_own_role_without_wildcard_actions(resources):
    roles = {
        name: resources[name]["Properties"]["Role"]["Fn::GetAtt"][0]
        for name in ("InferenceFunction", "AdServerFunction")
    }
    assert len(set(roles.values())) == 2
    for role in roles.values():
        for policy in resources[role]["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"]
                actions = [actions] if isinstance(actions, str) else actions
                assert all("*" not in action for action in actions), statement
                assert statement["Resource"] != "*"


def test_the_inference_role_may_not_write_frames_or_read_tokens_from_the_registry(resources):
    role = resources["InferenceFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    actions = {action for s in role["Statement"] for action in s["Action"]}
    assert "s3:PutObject" not in actions
    # It reads the registry's store items (which cameras exist), never the token digests.
    [registry] = [
        s
        for s in role["Statement"]
        if s.get("Resource") == {"Fn::GetAtt": ["RegistryTable", "Arn"]}
    ]
    assert registry["Action"] == ["dynamodb:GetItem"]
    assert registry["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["store#*"]}
    }


def test_stage_and_retention_are_parameters():
    parameters = load_template()["Parameters"]
    assert {"Stage", "ObservationRetentionDays", "DeleteFramesAfterProcessing"} <= set(parameters)


def test_one_message_in_the_dead_letter_queue_raises_the_alarm_to_the_alarms_topic(resources):
    alarm = resources["JobsDeadLetterAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["JobsDeadLetterQueue", "QueueName"]}}
    ]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["TreatMissingData"] == "notBreaching"  # an idle, empty queue is healthy
    assert alarm["AlarmActions"] == [{"Ref": "AlarmsTopic"}]
    assert resources["AlarmsTopic"]["Type"] == "AWS::SNS::Topic"


FUNCTIONS = ("InferenceFunction", "TrackerFunction", "AdServerFunction")


def test_every_function_is_traced_and_its_role_may_write_traces(resources):
    for name in FUNCTIONS:
        function = resources[name]["Properties"]
        assert function["TracingConfig"] == {"Mode": "Active"}, name
        role = resources[function["Role"]["Fn::GetAtt"][0]]["Properties"]
        assert {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSXrayWriteOnlyAccess"} in role[
            "ManagedPolicyArns"
        ], name


def test_each_function_alarms_on_errors_and_throttles_to_the_alarms_topic(resources):
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    watched = {
        (a["MetricName"], a["Dimensions"][0]["Value"]["Ref"])
        for a in alarms
        if a["Namespace"] == "AWS/Lambda"
    }
    assert watched == {(m, f) for m in ("Errors", "Throttles") for f in FUNCTIONS}
    assert all(a["AlarmActions"] == [{"Ref": "AlarmsTopic"}] for a in alarms)


def test_a_backlog_of_frame_jobs_raises_an_alarm(resources):
    alarm = resources["JobsQueueAgeAlarm"]["Properties"]
    assert alarm["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["JobsQueue", "QueueName"]}


def test_the_dashboard_body_is_json_naming_the_queue_and_functions(resources):
    import json

    body, names = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    document = json.loads(body)  # placeholders sit inside strings, so the body parses as is
    metrics = [m for w in document["widgets"] for m in w["properties"]["metrics"]]
    assert {m[3] for m in metrics} >= {"${Jobs}", "${DeadLetters}", "${Inference}", "${AdServer}"}
    assert set(names) == {"Jobs", "DeadLetters", "Inference", "Tracker", "AdServer"}


def test_samconfig_deploys_dev_and_prod_with_parameters_the_template_allows():
    import tomllib

    from infra.template import REPO_ROOT

    config = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text())
    parameters = load_template()["Parameters"]
    for environment in ("dev", "prod"):
        deploy = config[environment]["deploy"]["parameters"]
        overrides = dict(item.split("=", 1) for item in deploy["parameter_overrides"].split())
        assert overrides["Stage"] == environment
        for name, value in overrides.items():
            allowed = parameters[name].get("AllowedValues")
            assert allowed is None or value in [str(v) for v in allowed], (name, value)
        assert deploy["resolve_image_repos"] is True  # the inference function is an image
