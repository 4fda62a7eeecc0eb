"""The local SQS poller behaves like Lambda's SQS event source mapping."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
from botocore.exceptions import EndpointConnectionError

from infra.polling import (
    UNHEALTHY_AFTER_FAILURES,
    backoff_delay_s,
    report_health_beside,
    unhealthy_file,
)
from infra.worker import EventSourceConfig, FunctionContainer, SqsEventSource


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


# ---------------------------------------------------------------- the function timeout, enforced
@pytest.fixture
def container_for():
    """FunctionContainer factory; every container is stopped after the test."""
    containers = []

    def make(handler_path, timeout_s=1.0):
        container = FunctionContainer(handler_path, "f", timeout_s=timeout_s)
        container.start()
        containers.append(container)
        return container

    yield make
    for container in containers:
        container.close()


def test_an_invocation_past_the_timeout_is_stopped_and_its_batch_left_for_redelivery(
    sqs, queues, container_for
):
    # GIVEN a handler in its own process, 1 s function timeout, and a message it hangs on
    container = container_for("tests.worker_handlers.sleepy", timeout_s=1.0)
    poller = source(sqs, queues, container, function_timeout_s=1.0)
    send(sqs, queues, "slow")
    # WHEN the batch is processed
    started = time.monotonic()
    result = poller.process(poller.receive_batch())
    elapsed_s = time.monotonic() - started
    # THEN the invocation is stopped at the timeout (not after the handler's 60 s), the batch
    # stays on the queue for redelivery...
    assert (result.deleted, result.failed) == (0, 1)
    assert elapsed_s < 5
    # ...and the worker goes on: the next message is handled by a fresh process
    time.sleep(1.2)  # let "slow" come back, then remove it so only the good one is polled
    [again] = poller.receive_batch()
    sqs.delete_message(QueueUrl=queues[0], ReceiptHandle=again["ReceiptHandle"])
    send(sqs, queues, "good")
    assert poller.process(poller.receive_batch()).deleted == 1


def test_the_handler_process_is_replaced_after_a_timeout(container_for):
    container = container_for("tests.worker_handlers.pid")
    first = container({"Records": []}, None)["pid"]
    assert container({"Records": []}, None)["pid"] == first  # reused while healthy
    container.close()  # as a timeout does
    assert container({"Records": []}, None)["pid"] != first


def test_a_handler_process_that_dies_mid_batch_fails_the_batch_and_is_replaced(
    sqs, queues, container_for
):
    container = container_for("tests.worker_handlers.dying")
    poller = source(sqs, queues, container)
    send(sqs, queues, "die")
    assert poller.process(poller.receive_batch()).failed == 1
    time.sleep(1.2)
    for message in poller.receive_batch():
        sqs.delete_message(QueueUrl=queues[0], ReceiptHandle=message["ReceiptHandle"])
    send(sqs, queues, "fine")
    assert poller.process(poller.receive_batch()).deleted == 1


def test_a_handler_that_raises_in_its_process_fails_the_batch(sqs, queues, container_for):
    container = container_for("tests.worker_handlers.sleepy")
    poller = source(sqs, queues, container)
    sqs.send_message(QueueUrl=queues[0], MessageBody="x")
    # a record without "body" makes the handler raise KeyError inside its process
    with pytest.raises(RuntimeError, match="KeyError"):
        container({"Records": [{}]}, None)
    assert poller.process(poller.receive_batch()).deleted == 1  # and it still serves


# ---------------------------------------------------------------- backoff when SQS is away
def test_the_backoff_doubles_to_a_cap_with_half_of_each_delay_random():
    ceilings = [backoff_delay_s(n, jitter=1.0) for n in range(1, 10)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert backoff_delay_s(3, jitter=0.0) == 1.0
    assert backoff_delay_s(1000, jitter=0.5) == 22.5


class RecordingStop(threading.Event):
    """A stop event whose waits are recorded (not slept) and which stops after ``limit``."""

    def __init__(self, limit):
        super().__init__()
        self.waits, self.limit = [], limit

    def wait(self, timeout=None):
        self.waits.append(timeout)
        if len(self.waits) >= self.limit:
            self.set()
        return self.is_set()


class UnreachableSqs:
    def receive_message(self, **_):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:4566/")


def test_an_unreachable_sqs_is_retried_with_growing_delays_and_one_line_each(caplog):
    config = EventSourceConfig(
        queue_url="q", queue_arn="arn:aws:sqs:us-east-1:1:q", function_name="f"
    )
    poller = SqsEventSource(UnreachableSqs(), RecordingHandler(), config)
    stop = RecordingStop(limit=5)
    # WHEN SQS cannot be reached for five polls
    with caplog.at_level(logging.INFO, logger="infra.worker"):
        poller.run(stop, jitter=lambda: 1.0)
    # THEN the waits grow, and each failure is one warning line without a traceback
    assert stop.waits == [0.5, 1.0, 2.0, 4.0, 8.0]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 5
    assert all(r.exc_info is None for r in warnings)
    assert "EndpointConnectionError" in warnings[0].getMessage()


class FailingThenWorkingSqs:
    """Raises like a malformed message did (KeyError) for ``failures`` polls, then answers
    once and sets ``stop``."""

    def __init__(self, failures, stop):
        self.failures, self.stop = failures, stop

    def receive_message(self, **_):
        if self.failures:
            self.failures -= 1
            raise KeyError("DataType")
        self.stop.set()
        return {"Messages": []}


def test_a_poller_that_keeps_failing_says_so_once_and_reports_itself_unhealthy(caplog, tmp_path):
    config = EventSourceConfig(
        queue_url="q", queue_arn="arn:aws:sqs:us-east-1:1:q", function_name="f"
    )
    ready = tmp_path / "worker-0.ready"
    ready.write_text("{}")
    seen = []

    def health(reason):
        seen.append(unhealthy_file(ready).exists() if reason is None else reason)
        report_health_beside(ready)(reason)

    # GIVEN polls that fail seven times in a row, then work
    stop = RecordingStop(limit=100)
    poller = SqsEventSource(FailingThenWorkingSqs(7, stop), RecordingHandler(), config)
    # WHEN the worker polls through them
    with caplog.at_level(logging.INFO, logger="infra.worker"):
        poller.run(stop, jitter=lambda: 0.0, health=health)
    # THEN the fifth failure is one error line naming the cause, the poller was reported
    # unhealthy once, and healthy again (its file removed) when a poll worked
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and f"failed {UNHEALTHY_AFTER_FAILURES} times" in errors[0]
    assert "KeyError" in errors[0]
    assert len(seen) == 2 and "KeyError: 'DataType'" in seen[0] and seen[1] is True
    assert not unhealthy_file(ready).exists()


def test_the_worker_process_stops_a_hung_invocation_and_goes_on_with_other_frames(
    moto_endpoint, tmp_path
):
    # GIVEN `python -m infra.worker` polling a queue (on a moto server) with a 2 s timeout,
    # and a handler that hangs a minute on "slow"
    import os
    import subprocess
    import sys

    import boto3

    sqs = boto3.client(
        "sqs",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    url = sqs.create_queue(QueueName="worker-e2e", Attributes={"VisibilityTimeout": "30"})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    ready = tmp_path / "worker.ready"
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    command = [sys.executable, "-m", "infra.worker", "--queue-url", url, "--queue-arn", arn]
    command += ["--handler", "tests.worker_handlers.sleepy", "--function-timeout-s", "2"]
    command += ["--batch-size", "1", "--ready-file", str(ready)]
    worker = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ready.exists(), "worker never became ready"
        # WHEN the hanging message and then a good one arrive
        sqs.send_message(QueueUrl=url, MessageBody="slow")
        time.sleep(0.5)
        sqs.send_message(QueueUrl=url, MessageBody="good")
        # THEN within a few seconds the good one is done, and the slow one waits, in flight,
        # for redelivery
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
                "Attributes"
            ]
            visible = int(attributes["ApproximateNumberOfMessages"])
            in_flight = int(attributes["ApproximateNumberOfMessagesNotVisible"])
            if (visible, in_flight) == (0, 1):
                break
            time.sleep(0.2)
        assert (visible, in_flight) == (0, 1)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=15)[0].decode()
    assert "ran past the 2 s timeout and was stopped" in output
    assert worker.returncode == 0
