"""The inference Lambda handler on SQS events shaped like the real S3 -> SNS -> SQS deliveries."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import uuid

import boto3
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
    for getter in CACHED:
        getter.cache_clear()
    yield handler
    for getter in CACHED:
        getter.cache_clear()


CACHED = (handler.get_settings, handler.get_frame_dependencies, handler.get_dead_letters)


@pytest.fixture
def dead_letter_queue(function, monkeypatch):
    """A dead-letter queue the function is configured with (DEAD_LETTER_QUEUE_URL)."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName=f"jobs-dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", url)
    for getter in CACHED:
        getter.cache_clear()
    return url


def dead_letters(url):
    """(body, reason) of every message in the dead-letter queue."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", [])
    return [(m["Body"], m["MessageAttributes"]["reason"]["StringValue"]) for m in messages]


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


def test_without_a_dead_letter_queue_a_message_that_is_not_a_frame_job_fails(
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


def test_a_message_that_is_not_a_frame_job_goes_to_the_dead_letter_queue_at_once(
    function, dead_letter_queue, s3, frames_bucket, observations_table
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
    # THEN nothing is left for retry: the frame is observed and the stray message is in the
    # dead-letter queue, as it arrived, with the reason attached
    assert response == {"batchItemFailures": []}
    assert observations_table.scan()["Count"] == 1
    [(body, reason)] = dead_letters(dead_letter_queue)
    assert body == stray["body"]
    assert reason.startswith("not a frame job: body.")


def test_an_unparsable_body_is_dead_lettered_instead_of_failing_the_batch(
    function, dead_letter_queue
):
    event = load_event("sqs_sns_s3_object_created")
    event["Records"][0]["body"] = "not json"
    assert invoke(event) == {"batchItemFailures": []}
    [(body, reason)] = dead_letters(dead_letter_queue)
    assert body == "not json" and "Invalid JSON" in reason


def test_a_frame_key_outside_the_scheme_is_dead_lettered_with_the_reason_and_removed(
    function, dead_letter_queue, s3, frames_bucket, observations_table
):
    # GIVEN an object under frames/ that names no camera and time
    s3.put_object(Bucket=frames_bucket, Key="frames/holiday.jpg", Body=jpeg_bytes())
    # WHEN its job is handled
    response = invoke(frame_job_event(("frames/holiday.jpg", 1000)))
    # THEN the job is done with: dead-lettered with why, the object gone, nothing observed
    assert response == {"batchItemFailures": []}
    [(_, reason)] = dead_letters(dead_letter_queue)
    assert reason.startswith("frames/holiday.jpg: not a frame key")
    assert s3.list_objects_v2(Bucket=frames_bucket)["KeyCount"] == 0
    assert observations_table.scan()["Count"] == 0


def test_a_dead_letter_queue_that_cannot_be_reached_leaves_the_record_for_retry(
    function, monkeypatch, s3, frames_bucket
):
    # GIVEN a function whose dead-letter queue does not exist (as when SQS is unreachable)
    monkeypatch.setenv(
        "DEAD_LETTER_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/missing"
    )
    for getter in CACHED:
        getter.cache_clear()
    s3.put_object(Bucket=frames_bucket, Key=KEY, Body=jpeg_bytes())
    event = frame_job_event((KEY, 1000))
    stray = copy.deepcopy(event["Records"][0])
    stray["messageId"] = "stray-message"
    stray["body"] = "not json"
    event["Records"].append(stray)
    # WHEN handled THEN the stray record is failed, so SQS keeps it and tries again
    assert invoke(event) == {"batchItemFailures": [{"itemIdentifier": "stray-message"}]}


def test_a_record_is_not_started_without_time_for_a_frame_left(
    function, s3, frames_bucket, observations_table
):
    # GIVEN an invocation with 5 s left, under the 10 s frame budget
    s3.put_object(Bucket=frames_bucket, Key=KEY, Body=jpeg_bytes())
    context = LocalLambdaContext("inference", timeout_s=5)
    # WHEN handled THEN the record is failed for retry (here: all of them, so the batch), and
    # the frame is left for the next delivery
    with pytest.raises(BatchProcessingError):
        handler.lambda_handler(frame_job_event((KEY, 1000)), context)
    assert observations_table.scan()["Count"] == 0
    assert s3.list_objects_v2(Bucket=frames_bucket)["KeyCount"] == 1


def test_frames_from_cameras_not_in_the_registry_are_rejected_with_the_reason(
    function, monkeypatch, s3, frames_bucket, observations_table
):
    # GIVEN a registry table that knows demo-store with one camera, demo-cam-1
    dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
    registry = dynamodb.create_table(
        TableName=f"registry-{uuid.uuid4().hex[:8]}",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    registry.put_item(Item={"pk": "store#demo-store", "cameras": {"demo-store/demo-cam-1"}})
    monkeypatch.setenv("REGISTRY_TABLE", registry.name)
    for getter in CACHED:
        getter.cache_clear()
    keys = [
        KEY,
        "frames/demo-store/demo-cam-9/1700000000001.jpg",
        "frames/other-store/demo-cam-1/1700000000002.jpg",
    ]
    for key in keys:
        s3.put_object(Bucket=frames_bucket, Key=key, Body=jpeg_bytes())
    # WHEN the three frames are handled
    assert invoke(frame_job_event(*((key, 1000) for key in keys))) == {"batchItemFailures": []}
    # THEN the registered camera's frame is observed, the others rejected saying why
    outcomes = {
        i["frame_key"]: (i["status"], i["error"]) for i in observations_table.scan()["Items"]
    }
    assert outcomes == {
        keys[0]: ("ok", None),
        keys[1]: ("rejected", "camera 'demo-cam-9' is not registered to store 'demo-store'"),
        keys[2]: ("rejected", "store 'other-store' is not in the registry"),
    }
    assert s3.list_objects_v2(Bucket=frames_bucket)["KeyCount"] == 0


class OneMessageSqs:
    """An SQS client that delivers ``message`` once and records the deletes."""

    def __init__(self, message):
        self.messages, self.deleted = [message], []

    def receive_message(self, **_):
        messages, self.messages = self.messages, []
        return {"Messages": messages}

    def delete_message_batch(self, QueueUrl, Entries):
        self.deleted.extend(entry["ReceiptHandle"] for entry in Entries)
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries]}


def test_the_worker_hands_on_an_sns_job_whose_attributes_lack_data_type(
    function, s3, frames_bucket, observations_table
):
    from infra.worker import EventSourceConfig, SqsEventSource

    # GIVEN an SNS-wrapped frame job as moto 5.1.18 delivers it: message attributes without
    # the DataType that SQS always names
    s3.put_object(Bucket=frames_bucket, Key=KEY, Body=jpeg_bytes())
    [record] = load_event("sqs_sns_s3_object_created")["Records"]
    message = {
        "MessageId": record["messageId"],
        "ReceiptHandle": "receipt-1",
        "Body": record["body"],
        "Attributes": record["attributes"],
        "MessageAttributes": {"source": {"StringValue": "sns"}},
    }
    sqs = OneMessageSqs(message)
    config = EventSourceConfig(
        queue_url="jobs", queue_arn="arn:aws:sqs:us-east-1:123456789012:jobs", function_name="f"
    )
    worker = SqsEventSource(sqs, handler.lambda_handler, config)
    # WHEN the worker polls it and invokes the inference handler
    result = worker.process(worker.receive_batch())
    # THEN the frame is observed and the job deleted, not a KeyError on every poll
    assert (result.received, result.deleted, result.failed) == (1, 1, 0)
    [item] = observations_table.scan()["Items"]
    assert (item["frame_key"], item["status"]) == (KEY, "ok")
    assert sqs.deleted == ["receipt-1"]


# ---------------------------------------------------------------- time budgeted per frame
class RunningDownContext(LocalLambdaContext):
    """A context whose remaining time is 30 s less what the predictor has 'spent'."""

    def __init__(self, clock):
        super().__init__("inference", timeout_s=30)
        self.clock = clock

    def get_remaining_time_in_millis(self):
        return max(0, int((self.timeout_s - self.clock["spent_s"]) * 1000))


def slow_predictor(predictor, clock, seconds_per_frame):
    """``predictor`` whose every frame costs ``seconds_per_frame`` of the invocation."""
    predict = predictor.predict

    def costly_predict(rgb, min_face_px=None):
        clock["spent_s"] += seconds_per_frame
        return predict(rgb, min_face_px=min_face_px)

    predictor.predict = costly_predict
    return predictor


def multi_frame_job(keys, message_id):
    """One SQS record whose S3 notification names every key (S3 itself sends one)."""
    [record] = frame_job_event((keys[0], 1000))["Records"]
    notification = json.loads(record["body"])
    s3_event = json.loads(notification["Message"])
    entry = s3_event["Records"][0]
    s3_event["Records"] = []
    for key in keys:
        named = copy.deepcopy(entry)
        named["s3"]["object"]["key"] = key
        s3_event["Records"].append(named)
    notification["Message"] = json.dumps(s3_event)
    record["body"] = json.dumps(notification)
    record["messageId"] = message_id
    return record


def single_frame_jobs(s3, frames_bucket, count):
    keys = [f"frames/demo-store/demo-cam-1/17000000{index:05d}.jpg" for index in range(count)]
    for key in keys:
        s3.put_object(Bucket=frames_bucket, Key=key, Body=jpeg_bytes())
    records = frame_job_event(*((key, 1000) for key in keys))["Records"]
    for index, record in enumerate(records):
        record["messageId"] = f"single-{index}"
    return keys, records


def test_a_job_naming_1000_frames_is_dead_lettered_and_its_batch_processed(
    function, dead_letter_queue, s3, frames_bucket, observations_table, predictor
):
    # GIVEN a batch of five jobs: one naming 1,000 frames, first, and four of one frame each;
    # each frame costs 4 s of a 30 s invocation
    clock = {"spent_s": 0.0}
    slow_predictor(predictor, clock, seconds_per_frame=4.0)
    many = [f"frames/demo-store/demo-cam-2/17000{index:08d}.jpg" for index in range(1000)]
    keys, singles = single_frame_jobs(s3, frames_bucket, 4)
    event = {"Records": [multi_frame_job(many, "job-of-1000"), *singles]}
    # WHEN the batch is handled in one invocation
    response = handler.lambda_handler(event, RunningDownContext(clock))
    # THEN the four other jobs are observed in this invocation, nothing is retried, and the
    # long job is parked with its reason
    assert response == {"batchItemFailures": []}
    observed = sorted(item["frame_key"] for item in observations_table.scan()["Items"])
    assert observed == sorted(keys)
    [(_, reason)] = dead_letters(dead_letter_queue)
    assert "names 1000 objects, over the 10 a job may name" in reason


def test_a_job_that_runs_short_of_time_fails_alone_and_resumes_where_it_stopped(
    function, s3, frames_bucket, observations_table, predictor
):
    # GIVEN a batch whose first job names ten frames (the most a job may) and four jobs of
    # one frame; each frame costs 4 s of a 30 s invocation, and a frame needs 10 s left
    clock = {"spent_s": 0.0}
    slow_predictor(predictor, clock, seconds_per_frame=4.0)
    long_keys = [f"frames/demo-store/demo-cam-2/17000000{index:05d}.jpg" for index in range(10)]
    for key in long_keys:
        s3.put_object(Bucket=frames_bucket, Key=key, Body=jpeg_bytes())
    keys, singles = single_frame_jobs(s3, frames_bucket, 4)
    event = {"Records": [multi_frame_job(long_keys, "long-job"), *singles]}
    # WHEN the batch is handled
    response = handler.lambda_handler(event, RunningDownContext(clock))
    # THEN the four short jobs ran first and are done; only the long job is failed for retry,
    # after the frames there was time for (30 - 16 s: two more)
    assert response == {"batchItemFailures": [{"itemIdentifier": "long-job"}]}
    observed = {item["frame_key"] for item in observations_table.scan()["Items"]}
    assert set(keys) <= observed and len(observed & set(long_keys)) == 2
    # AND each redelivery skips the done frames and goes on: 6 more, then the last 2
    done_after = []
    for _ in range(2):
        clock["spent_s"] = 0.0
        retry = {"Records": [multi_frame_job(long_keys, "long-job")]}
        with contextlib.suppress(BatchProcessingError):  # a batch of one that fails raises
            handler.lambda_handler(retry, RunningDownContext(clock))
        observed = {item["frame_key"] for item in observations_table.scan()["Items"]}
        done_after.append(len(observed & set(long_keys)))
    assert done_after == [8, 10]
