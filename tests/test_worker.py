"""The local SQS poller behaves like Lambda's SQS event source mapping."""

from __future__ import annotations

import json
import time

import pytest

from infra.worker import EventSourceConfig, SqsEventSource


@pytest.fixture
def sqs(aws):
    import boto3

    return boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def queues(sqs):
    """A jobs queue (1 s visibility so retries come quickly) with a dead-letter queue after 2."""
    dlq_url = sqs.create_queue(QueueName="jobs-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName="jobs",
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn, dlq_url


class RecordingHandler:
    """Fails the records whose body is in ``fail``; remembers every event it got."""

    def __init__(self, fail=(), raise_error=False, response=None):
        self.fail, self.raise_error, self.response = set(fail), raise_error, response
        self.events = []

    def __call__(self, event, context):
        self.events.append(event)
        if self.raise_error:
            raise RuntimeError("boom")
        if self.response is not None:
            return self.response
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]}
                for r in event["Records"]
                if r["body"] in self.fail
            ]
        }


def source(sqs, queues, handler, **overrides):
    url, arn, _ = queues
    config = EventSourceConfig(queue_url=url, queue_arn=arn, function_name="f", **overrides)
    return SqsEventSource(sqs, handler, config)


def send(sqs, queues, *bodies):
    for body in bodies:
        sqs.send_message(QueueUrl=queues[0], MessageBody=body)


def visible(sqs, url) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_a_batch_arrives_as_a_lambda_sqs_event_and_is_deleted_on_success(sqs, queues):
    # GIVEN two messages and a handler that succeeds
    send(sqs, queues, "a", "b")
    handler = RecordingHandler()
    # WHEN one batch is polled and processed
    result = source(sqs, queues, handler).process(source(sqs, queues, handler).receive_batch())
    # THEN the handler saw a Lambda-shaped SQS event and both messages are gone
    [event] = handler.events
    record = event["Records"][0]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == queues[1]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"messageId", "receiptHandle", "md5OfBody", "awsRegion"} <= set(record)
    assert sorted(r["body"] for r in event["Records"]) == ["a", "b"]
    assert (result.received, result.deleted, result.failed) == (2, 2, 0)
    assert visible(sqs, queues[0]) == 0


def test_batch_size_caps_a_batch(sqs, queues):
    send(sqs, queues, "a", "b", "c")
    batch = source(sqs, queues, RecordingHandler(), batch_size=2).receive_batch()
    assert len(batch) == 2


def test_the_batching_window_gathers_messages_that_arrive_within_it(sqs, queues):
    # GIVEN one message now; WHEN a batch is gathered with a one second window
    send(sqs, queues, "a")
    poller = source(sqs, queues, RecordingHandler(), batching_window_s=1)
    started = time.monotonic()
    batch = poller.receive_batch()
    # THEN the poller waited for the window before handing over a partial batch
    assert len(batch) == 1 and time.monotonic() - started >= 0.9


def test_reported_failures_stay_and_come_back_after_the_visibility_timeout(sqs, queues):
    # GIVEN a handler that fails message "b"
    send(sqs, queues, "a", "b")
    handler = RecordingHandler(fail={"b"})
    poller = source(sqs, queues, handler)
    # WHEN a batch is processed
    result = poller.process(poller.receive_batch())
    # THEN only "b" stays, and it is delivered again once its visibility timeout passes
    assert (result.deleted, result.failed) == (1, 1)
    time.sleep(1.2)
    again = poller.receive_batch()
    assert [m["Body"] for m in again] == ["b"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_a_raising_handler_leaves_the_whole_batch_on_the_queue(sqs, queues):
    send(sqs, queues, "a", "b")
    poller = source(sqs, queues, RecordingHandler(raise_error=True))
    result = poller.process(poller.receive_batch())
    assert (result.deleted, result.failed) == (0, 2)


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]},
        {"batchItemFailures": [{}]},
        "not a dict",
    ],
    ids=["unknown-id", "missing-id", "not-a-dict"],
)
def test_a_malformed_partial_response_fails_the_whole_batch(sqs, queues, response):
    send(sqs, queues, "a")
    poller = source(sqs, queues, RecordingHandler(response=response))
    assert poller.process(poller.receive_batch()).failed == 1


def test_without_report_batch_item_failures_the_response_is_ignored(sqs, queues):
    send(sqs, queues, "a")
    poller = source(sqs, queues, RecordingHandler(fail={"a"}), report_batch_item_failures=False)
    assert poller.process(poller.receive_batch()).deleted == 1


def test_a_message_failing_every_time_ends_in_the_dead_letter_queue(sqs, queues):
    # GIVEN a message the handler always fails, and maxReceiveCount 2
    send(sqs, queues, "poison")
    poller = source(sqs, queues, RecordingHandler(fail={"poison"}))
    # WHEN it is received twice and then polled again
    for _ in range(2):
        poller.process(poller.receive_batch())
        time.sleep(1.2)
    poller.process(poller.receive_batch())
    # THEN it has moved to the dead-letter queue, not been lost
    assert visible(sqs, queues[2]) == 1
    assert visible(sqs, queues[0]) == 0
