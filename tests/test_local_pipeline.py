"""The pipeline's plumbing on a moto server provisioned from template.yaml, model faked.

S3 upload -> ObjectCreated -> SNS -> SQS -> local poller -> inference handler -> DynamoDB,
then the ad server's Lambda handler behind the local HTTP adapter. The real model runs in
tests/test_stack_integration.py.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from http.server import ThreadingHTTPServer

import boto3
import pytest

from adserver import handler as adserver_handler
from adserver.local_server import make_request_handler
from adserver.registry import DynamoDBRegistry
from infra.provision import provision
from infra.seed import seed_registry
from infra.template import load_template, translate
from infra.worker import EventSourceConfig, SqsEventSource
from lambdas.inference import handler as inference_handler
from tests.conftest import jpeg_bytes
from tests.fakes import FakeFace, FakePredictor

FRAME = "frames/demo-store/demo-cam-1/{ms}.jpg"


@pytest.fixture
def session(moto_endpoint, aws_credentials, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)  # every boto3 client goes to moto
    return boto3.session.Session(region_name="us-east-1")


def provision_stack(session, moto_endpoint, template=None, stack_name=None):
    return provision(
        translate(template or load_template(), {"Stage": "local"}),
        session,
        stack_name=stack_name or f"t-{uuid.uuid4().hex[:8]}",
        parameters={"Stage": "local"},
        endpoint_url=moto_endpoint,
    )


@pytest.fixture
def stack(session, moto_endpoint):
    return provision_stack(session, moto_endpoint)


@pytest.fixture
def predictor():
    return FakePredictor(faces=(FakeFace(), FakeFace(gender="male", age_band="adult", age=40)))


@pytest.fixture
def poller(stack, predictor, monkeypatch):
    """The inference function's event source, as the local stack runs it, with a fake model."""
    function = stack.functions["InferenceFunction"]
    for name, value in function.environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(inference_handler, "get_predictor", lambda: predictor)
    # The function rejects frames from cameras not in the registry; the stack seeds it first.
    seed_registry(
        DynamoDBRegistry(boto3.resource("dynamodb").Table(stack.outputs["RegistryTableName"]))
    )
    inference_handler.get_settings.cache_clear()
    inference_handler.get_frame_dependencies.cache_clear()
    inference_handler.get_dead_letters.cache_clear()
    [source] = stack.event_sources
    config = EventSourceConfig(
        queue_url=source.queue_url,
        queue_arn=source.queue_arn,
        function_name=function.name,
        batch_size=source.batch_size,
        batching_window_s=0,  # the window is tested in test_worker.py; keep this test quick
        function_timeout_s=function.timeout_s,
    )
    yield SqsEventSource(boto3.client("sqs"), inference_handler.lambda_handler, config)
    inference_handler.get_settings.cache_clear()
    inference_handler.get_frame_dependencies.cache_clear()
    inference_handler.get_dead_letters.cache_clear()


def drain(poller, rounds=5):
    for _ in range(rounds):
        if poller.process(poller.receive_batch()).received == 0:
            return


def queue_depth(url):
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def observations(stack):
    table = boto3.resource("dynamodb").Table(stack.outputs["ObservationsTableName"])
    return sorted(table.scan()["Items"], key=lambda item: item["captured_at_ms"])


def test_the_template_resources_exist_on_the_moto_server(stack):
    # THEN what the template names is there, wired the way it declares
    s3 = boto3.client("s3")
    bucket = stack.outputs["FramesBucketName"]
    [topic] = s3.get_bucket_notification_configuration(Bucket=bucket)["TopicConfigurations"]
    assert topic["TopicArn"] == stack.outputs["FramesTopicArn"]
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["Expiration"] == {
        "Days": 1
    }
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["JobsQueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    assert attributes["VisibilityTimeout"] == "180"
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == 5
    # AND the one thing moto cannot enforce is reported, not silently dropped
    assert any("DenyInsecureTransport" in note for note in stack.notes)


def test_renaming_the_queue_in_the_template_renames_it_locally(session, moto_endpoint):
    # GIVEN the template with the jobs queue renamed
    template = load_template()
    template["Resources"]["JobsQueue"]["Properties"]["QueueName"] = {
        "Fn::Sub": "${AWS::StackName}-renamed-jobs"
    }
    # WHEN it is provisioned
    stack = provision_stack(session, moto_endpoint, template, stack_name="rename-test")
    # THEN the queue has the new name and the event source follows it
    assert stack.outputs["JobsQueueUrl"].endswith("/rename-test-renamed-jobs")
    assert stack.event_sources[0].queue_arn.endswith(":rename-test-renamed-jobs")


def test_an_uploaded_frame_becomes_an_observation_and_leaves_nothing_behind(stack, poller):
    # GIVEN a frame uploaded by a camera
    key = FRAME.format(ms=1_700_000_000_000)
    boto3.client("s3").put_object(
        Bucket=stack.outputs["FramesBucketName"], Key=key, Body=jpeg_bytes()
    )
    # WHEN the queue is drained (it also holds the s3:TestEvent S3 sent at set-up)
    drain(poller)
    # THEN one observation with the predicted faces, no frame, no message, nothing dead-lettered
    [item] = observations(stack)
    assert (item["frame_key"], item["status"], len(item["faces"])) == (key, "ok", 2)
    assert (
        boto3.client("s3").list_objects_v2(
            Bucket=stack.outputs["FramesBucketName"], Prefix="frames/"
        )["KeyCount"]
        == 0
    )
    assert queue_depth(stack.outputs["JobsQueueUrl"]) == 0
    assert queue_depth(stack.outputs["JobsDeadLetterQueueUrl"]) == 0


def test_edge_cases_each_give_their_documented_outcome(stack, poller, predictor):
    # GIVEN a frame uploaded twice (two notifications), a corrupt JPEG and an empty object
    s3, bucket = boto3.client("s3"), stack.outputs["FramesBucketName"]
    twice, corrupt, empty = (FRAME.format(ms=1_700_000_000_000 + i) for i in (1, 2, 3))
    s3.put_object(Bucket=bucket, Key=twice, Body=jpeg_bytes())
    s3.put_object(Bucket=bucket, Key=twice, Body=jpeg_bytes())
    s3.put_object(Bucket=bucket, Key=corrupt, Body=jpeg_bytes()[:150])
    s3.put_object(Bucket=bucket, Key=empty, Body=b"")
    # WHEN everything is processed
    drain(poller)
    # THEN one observation per frame key with the right status, and no message lost or stuck
    outcome = {item["frame_key"]: (item["status"], item["error"]) for item in observations(stack)}
    assert outcome[twice] == ("ok", None)
    assert outcome[empty] == ("rejected", "empty file")
    assert outcome[corrupt][0] == "rejected"
    assert outcome[corrupt][1].startswith("corrupt or truncated image")
    assert len(outcome) == 3
    assert queue_depth(stack.outputs["JobsQueueUrl"]) == 0
    assert queue_depth(stack.outputs["JobsDeadLetterQueueUrl"]) == 0


@pytest.fixture
def adserver_url(stack, monkeypatch):
    """The ad server's Lambda handler behind the local HTTP API adapter, on a free port."""
    for name, value in stack.functions["AdServerFunction"].environment.items():
        monkeypatch.setenv(name, value)
    adserver_handler.get_app.cache_clear()
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), make_request_handler(adserver_handler.lambda_handler, 10)
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    adserver_handler.get_app.cache_clear()


def get_json(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_the_ad_server_reads_what_the_pipeline_wrote(stack, poller, adserver_url):
    # GIVEN seeded tokens and a frame processed just now
    tokens = seed_registry(
        DynamoDBRegistry(boto3.resource("dynamodb").Table(stack.outputs["RegistryTableName"]))
    )
    now_ms = time.time_ns() // 1_000_000
    boto3.client("s3").put_object(
        Bucket=stack.outputs["FramesBucketName"], Key=FRAME.format(ms=now_ms), Body=jpeg_bytes()
    )
    drain(poller)
    # WHEN the operator reads the camera and the display asks for its next ad
    listing = get_json(
        f"{adserver_url}/v1/stores/demo-store/cameras/demo-cam-1/observations?since_ms=0",
        tokens.operator,
    )
    ad = get_json(
        f"{adserver_url}/v1/displays/demo-display-1/next-ad", tokens.displays["demo-display-1"]
    )
    # THEN both reflect the observation
    [observed] = listing["observations"]
    assert observed["captured_at_ms"] == now_ms and len(observed["faces"]) == 2
    assert ad["audience"]["faces"] == 2
    assert ad["audience"]["bucket"] in ("adult/male", "young_adult/female")
