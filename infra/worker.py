"""Drain an SQS queue into a Lambda handler the way Lambda's SQS event source mapping does.

Messages are gathered into batches (batch size, batching window), handed to the handler as
a real SQS event, and deleted only when the handler succeeded for them: with
ReportBatchItemFailures the ``batchItemFailures`` it returns stay on the queue; if the
handler raises, or runs past its timeout, the whole batch stays. Messages that stay become
visible again after the queue's visibility timeout, and the queue's redrive policy moves
them to the dead-letter queue after maxReceiveCount receives.

    python -m infra.worker --queue-url URL --handler lambdas.inference.handler.lambda_handler
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from infra.local_lambda import Handler, LocalLambdaContext, exit_with_parent, import_handler

log = logging.getLogger("infra.worker")

# Lambda long-polls too; a short wait keeps shutdown quick and costs nothing on moto.
POLL_WAIT_S = 1


@dataclass(frozen=True)
class EventSourceConfig:
    """The event source mapping's settings (see AWS::Lambda::EventSourceMapping)."""

    queue_url: str
    queue_arn: str
    function_name: str
    batch_size: int = 10
    batching_window_s: float = 0.0
    report_batch_item_failures: bool = True
    function_timeout_s: float = 30.0
    region: str = "us-east-1"


@dataclass(frozen=True)
class BatchResult:
    received: int
    deleted: int
    failed: int


class SqsEventSource:
    """One poller: receive a batch, invoke, delete what succeeded."""

    def __init__(self, sqs: Any, handler: Handler, config: EventSourceConfig) -> None:
        self._sqs = sqs
        self._handler = handler
        self._config = config

    def receive_batch(self, stop: threading.Event | None = None) -> list[dict[str, Any]]:
        """Long-poll for a first message, then gather more for up to the batching window."""
        config = self._config
        messages = self._receive(config.batch_size, POLL_WAIT_S)
        if not messages:
            return []
        deadline = time.monotonic() + config.batching_window_s
        while len(messages) < config.batch_size and (stop is None or not stop.is_set()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wait_s = min(POLL_WAIT_S, max(0, int(remaining)))
            more = self._receive(config.batch_size - len(messages), wait_s)
            if more:
                messages.extend(more)
            elif wait_s == 0:
                time.sleep(min(0.05, remaining))
        return messages

    def _receive(self, wanted: int, wait_s: int) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self._config.queue_url,
            MaxNumberOfMessages=max(1, min(10, wanted)),
            WaitTimeSeconds=wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def process(self, messages: list[dict[str, Any]]) -> BatchResult:
        """Invoke the handler with the batch and delete the messages it did not fail."""
        if not messages:
            return BatchResult(0, 0, 0)
        event = sqs_event(messages, self._config.queue_arn, self._config.region)
        failed_ids = self._invoke(event)
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self._sqs.delete_message_batch(
                QueueUrl=self._config.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
        return BatchResult(len(messages), len(done), len(messages) - len(done))

    def _invoke(self, event: dict[str, Any]) -> set[str]:
        """The message ids to keep on the queue (all of them if the invocation failed)."""
        every_id = {record["messageId"] for record in event["Records"]}
        config = self._config
        context = LocalLambdaContext(config.function_name, timeout_s=config.function_timeout_s)
        try:
            response = self._handler(event, context)
        except Exception:
            log.exception("invocation failed; the whole batch returns to the queue")
            return every_id
        elapsed_s = time.monotonic() - context.started_at
        if elapsed_s > config.function_timeout_s:
            log.error(
                "invocation took %.1f s, over the %.0f s timeout; Lambda would have stopped it,"
                " so the whole batch returns to the queue",
                elapsed_s,
                config.function_timeout_s,
            )
            return every_id
        if not config.report_batch_item_failures:
            return set()
        return _reported_failures(response, every_id)

    def run(self, stop: threading.Event, heartbeat: Path | None = None) -> None:
        """Poll until ``stop``; touch ``heartbeat`` once per poll so the local stack can tell
        a hung worker from a busy one."""
        while not stop.is_set():
            if heartbeat is not None:
                heartbeat.touch()
            try:
                result = self.process(self.receive_batch(stop))
            except Exception:  # a moto or network hiccup must not end the poller
                log.exception("polling failed; retrying")
                stop.wait(1.0)
                continue
            if result.received:
                log.info(
                    "batch: %d received, %d done, %d left for retry",
                    result.received,
                    result.deleted,
                    result.failed,
                )


def _reported_failures(response: Any, every_id: set[str]) -> set[str]:
    """Lambda's reading of a partial batch response: anything malformed fails the batch."""
    if response is None:
        return set()
    if not isinstance(response, Mapping):
        return every_id
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return every_id
    failed: set[str] = set()
    for failure in failures:
        item = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not item or item not in every_id:
            log.error("invalid batchItemFailures entry %r; the whole batch fails", failure)
            return every_id
        failed.add(item)
    return failed


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda builds from received SQS messages."""
    return {"Records": [_sqs_record(m, queue_arn, region) for m in messages]}


def _sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    body = message["Body"]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": value.get("StringListValues", []),
                "binaryListValues": value.get("BinaryListValues", []),
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def warm_up(handler: Handler, config: EventSourceConfig) -> None:
    """An empty batch: the handler builds its clients and loads its model before real work,
    as a provisioned Lambda environment would during init."""
    handler({"Records": []}, LocalLambdaContext(config.function_name, config.function_timeout_s))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--queue-arn", required=True)
    parser.add_argument("--handler", required=True, help="module.function")
    parser.add_argument("--function-name", default="function")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--batching-window-s", type=float, default=0.0)
    parser.add_argument("--function-timeout-s", type=float, default=30.0)
    parser.add_argument("--no-report-batch-item-failures", action="store_true")
    parser.add_argument("--ready-file", type=Path, help="written once the handler is warm")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(message)s")

    config = EventSourceConfig(
        queue_url=args.queue_url,
        queue_arn=args.queue_arn,
        function_name=args.function_name,
        batch_size=args.batch_size,
        batching_window_s=args.batching_window_s,
        report_batch_item_failures=not args.no_report_batch_item_failures,
        function_timeout_s=args.function_timeout_s,
        region=args.queue_arn.split(":")[3],
    )
    exit_with_parent()
    handler = import_handler(args.handler)
    warm_up(handler, config)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if args.ready_file is not None:
        args.ready_file.write_text(json.dumps({"queue_url": config.queue_url}))
    log.info("polling %s for %s", config.queue_url, args.handler)
    SqsEventSource(boto3.client("sqs", region_name=config.region), handler, config).run(
        stop, heartbeat=args.ready_file
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
