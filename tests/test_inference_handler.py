"""The inference Lambda handler on SQS events shaped like the real S3 -> SNS -> SQS deliveries."""

from __future__ import annotations

import copy
import json
import logging

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from infra.local_lambda import LocalLambdaContext
from lambdas.inference import handler
from tests.aws_events import fixture_bucket, frame_job_event, load_event
from tests.conftest import jpeg_bytes
from tests.fakes import FakePredictor

KEY = "frames/demo-store/demo-cam-1/1700000000000.jpg"


@pytest.fixture
def predictor() -> FakePredictor:
    return FakePredictor()


@pytest.fixture
def frames_bucket(s3) -> str:
    name = fixture_bucket()
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def function(monkeypatch, observations_table, frames_bucket, predictor):
    """The handler module as a fresh container: env from the template, fake model injected."""
    monkeypatch.setenv("OBSERVATIONS_TABLE", observations_table.name)
    monkeypatch.setattr(handler, "get_predictor", lambda: predictor)
    for getter in (handler.get_settings, handler.get_frame_dependencies):
        getter.cache_clear()
    yield handler
    for getter in (handler.get_settings, handler.get_frame_dependencies):
        getter.cache_clear()


def invoke(event):
    return handler.lambda_handler(event, LocalLambdaContext("inference", timeout_s=30))


def test_the_object_created_fixture_yields_one_observation(
    function, s3, frames_bucket, observations_table
):
    # GIVEN the frame the fixture announces is in the bucket
    s3.put_object(Bucket=frames_bucket, Key=KEY, Body=jpeg_bytes())
    # WHEN the real-shaped SQS event is handled
    response = invoke(load_event("sqs_sns_s3_object_created"))
    # THEN no record failed, one observation exists and the frame is gone
    assert response == {"batchItemFailures": []}
    [item] = observations_table.scan()["Items"]
    assert (item["frame_key"], item["status"], len(item["faces"])) == (KEY, "ok", 1)
    assert s3.list_objects_v2(Bucket=frames_bucket)["KeyCount"] == 0


def test_the_s3_test_event_is_acknowledged_and_writes_nothing(function, observations_table):
    # WHEN S3's notification self-test arrives
    response = invoke(load_event("sqs_sns_s3_test_event"))
    # THEN it succeeds (so it is deleted from the queue) and records nothing
    assert response == {"batchItemFailures": []}
    assert observations_table.scan()["Count"] == 0


def test_a_duplicate_delivery_in_the_same_batch_gives_one_observation(
    function, s3, frames_bucket, observations_table, predictor
):
    # GIVEN one frame announced twice in a batch (at-least-once delivery)
    s3.put_object(Bucket=frames_bucket, Key=KEY, Body=jpeg_bytes())
    event = frame_job_event((KEY, 1000), (KEY, 1000))
    # WHEN the batch is handled
    response = invoke(event)
    # THEN both records succeed, one observation exists and the model ran once
    assert response == {"batchItemFailures": []}
    assert observations_table.scan()["Count"] == 1
    assert len(predictor.seen_shapes) == 1


def test_a_corrupt_and_a_zero_byte_frame_are_recorded_as_rejected(
    function, s3, frames_bucket, observations_table
):
    # GIVEN a truncated JPEG and an empty object
    corrupt = "frames/demo-store/demo-cam-1/1700000000001.jpg"
    empty = "frames/demo-store/demo-cam-1/1700000000002.jpg"
    s3.put_object(Bucket=frames_bucket, Key=corrupt, Body=jpeg_bytes()[:200])
    s3.put_object(Bucket=frames_bucket, Key=empty, Body=b"")
    # WHEN both are handled
    response = invoke(frame_job_event((corrupt, 200), (empty, 0)))
    # THEN nothing fails and each has a rejected observation with its reason
    assert response == {"batchItemFailures": []}
    errors = {i["frame_key"]: i["error"] for i in observations_table.scan()["Items"]}
    assert errors[empty] == "empty file"
    assert errors[corrupt].startswith("corrupt or truncated image")


def test_a_record_that_fails_is_reported_alone_for_retry(
    function, s3, frames_bucket, observations_table
):
    # GIVEN a batch of a good frame and a frame in a bucket the function cannot read
    s3.put_object(Bucket=frames_bucket, Key=KEY, Body=jpeg_bytes())
    event = frame_job_event((KEY, 1000))
    broken = frame_job_event(
        ("frames/demo-store/demo-cam-1/1700000000009.jpg", 10), bucket="no-such-bucket"
    )["Records"][0]
    broken["messageId"] = "broken-record"
    event["Records"].append(broken)
    # WHEN the batch is handled
    response = invoke(event)
    # THEN only the failing record is reported, so only it returns to the queue
    assert response == {"batchItemFailures": [{"itemIdentifier": "broken-record"}]}
    assert observations_table.scan()["Count"] == 1


def test_a_message_that_is_not_a_frame_job_fails_and_is_left_for_the_dead_letter_queue(
    function, s3, frames_bucket
):
    # GIVEN a batch of a good frame job and a record whose body is not an SNS notification
    s3.put_object(Bucket=frames_bucket, Key=KEY, Body=jpeg_bytes())
    event = frame_job_event((KEY, 1000))
    stray = copy.deepcopy(event["Records"][0])
    stray["messageId"] = "stray-message"
    stray["body"] = json.dumps({"hello": "world"})
    event["Records"].append(stray)
    # WHEN handled
    response = invoke(event)
    # THEN the stray record is reported failed (retried, then dead-lettered), not dropped
    assert response == {"batchItemFailures": [{"itemIdentifier": "stray-message"}]}


def test_a_batch_where_every_record_fails_raises_so_the_whole_batch_returns(function):
    # GIVEN a batch with only an unparseable record
    event = load_event("sqs_sns_s3_object_created")
    event["Records"][0]["body"] = "not json"
    # WHEN handled THEN the invocation fails, as Lambda expects for an all-failed batch
    with pytest.raises(BatchProcessingError):
        invoke(event)


def test_logs_name_frames_but_carry_no_image_bytes(function, s3, frames_bucket, caplog):
    # GIVEN a frame whose bytes are recognisable
    data = jpeg_bytes()
    s3.put_object(Bucket=frames_bucket, Key=KEY, Body=data)
    # WHEN it is handled
    with caplog.at_level(logging.DEBUG):
        invoke(load_event("sqs_sns_s3_object_created"))
    # THEN a log record names the frame and its result
    frames = [r for r in caplog.records if getattr(r, "frame_key", None) == KEY]
    assert [(r.result, r.faces) for r in frames] == [("ok", 1)]
    # AND nothing logged holds image content
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert data[16:48].hex() not in logged and repr(data[16:48]) not in logged


def test_the_model_and_clients_are_built_once_per_container(
    function, s3, frames_bucket, monkeypatch, predictor
):
    # GIVEN a container whose model loader counts its calls
    loads = []
    monkeypatch.setattr(handler, "get_predictor", lambda: loads.append(1) or predictor)
    handler.get_frame_dependencies.cache_clear()
    # WHEN two batches arrive
    for ms in (1_700_000_000_000, 1_700_000_000_001):
        key = f"frames/demo-store/demo-cam-1/{ms}.jpg"
        s3.put_object(Bucket=frames_bucket, Key=key, Body=jpeg_bytes())
        assert invoke(frame_job_event((key, 1000))) == {"batchItemFailures": []}
    # THEN the model was loaded once and both frames were seen by it
    assert loads == [1]
    assert len(predictor.seen_shapes) == 2
