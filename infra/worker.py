"""Drain an SQS queue into a Lambda handler the way Lambda's SQS event source mapping does.

Messages are gathered into batches (batch size, batching window), handed to the handler as
a real SQS event, and deleted only when the handler succeeded for them: with
ReportBatchItemFailures the ``batchItemFailures`` it returns stay on the queue; if the
handler raises, or runs past its timeout, the whole batch stays. Messages that stay become
visible again after the queue's visibility timeout, and the queue's redrive policy moves
them to the dead-letter queue after maxReceiveCount receives.

As in Lambda, the handler runs in a process of its own (``FunctionContainer``): an
invocation that runs past the function timeout is stopped (the process is killed), its
batch left for redelivery, and the next batch gets a fresh process. When SQS cannot be
reached the poller backs off, with jitter, instead of retrying every second.

    python -m infra.worker --queue-url URL --handler lambdas.inference.handler.lambda_handler
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import multiprocessing
import random
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import boto3

from infra.local_lambda import Handler, LocalLambdaContext, exit_with_parent, import_handler
from infra.polling import HealthReport, poll_until_stopped, report_health_beside

log = logging.getLogger("infra.worker")

# Lambda long-polls too; a short wait keeps shutdown quick and costs nothing on moto.
POLL_WAIT_S = 1
# Loading the model is the cold start; Lambda allows 10 s for init, a loaded laptop needs more.
CONTAINER_INIT_TIMEOUT_S = 120.0


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
        return _latest_receipt_of_each(messages)

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
        except (InvocationTimedOut, ContainerDied) as exc:
            log.error("%s; the whole batch (%s) returns to the queue", exc, sorted(every_id))
            return every_id
        except Exception:
            log.exception("invocation failed; the whole batch returns to the queue")
            return every_id
        elapsed_s = time.monotonic() - context.started_at
        # A FunctionContainer stops its own invocations at the timeout (its cold start not
        # counted, as in Lambda); a handler called in this process can only be judged after.
        enforced = isinstance(self._handler, FunctionContainer)
        if elapsed_s > config.function_timeout_s and not enforced:
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

    def run(
        self,
        stop: threading.Event,
        heartbeat: Path | None = None,
        jitter: Callable[[], float] = random.random,
        health: HealthReport | None = None,
    ) -> None:
        """Poll until ``stop`` (``infra.polling``: heartbeat, backoff with jitter, health)."""

        def poll_once() -> bool:
            result = self.process(self.receive_batch(stop))
            if result.received:
                log.info(
                    "batch: %d received, %d done, %d left for retry",
                    result.received,
                    result.deleted,
                    result.failed,
                )
            return result.received > 0

        poll_until_stopped(
            poll_once,
            stop,
            log,
            heartbeat=None if heartbeat is None else heartbeat.touch,
            jitter=jitter,
            health=health,
        )


def _latest_receipt_of_each(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # A window longer than the visibility timeout can receive a message twice; only the
    # newest receipt handle can delete it, and the handler should see it once.
    latest = {message["MessageId"]: message for message in messages}
    return list(latest.values())


class InvocationTimedOut(Exception):
    """The handler ran past the function timeout and was stopped."""


class ContainerDied(Exception):
    """The handler's process ended in the middle of an invocation."""


class FunctionContainer:
    """A handler in a process of its own, called like the handler itself.

    Like a Lambda execution environment: started (and warmed up) once, reused for every
    invocation, and thrown away when an invocation runs past the timeout or the process
    dies, the next invocation starting a fresh one. Killing the process is what really
    stops the work; a thread cannot be stopped.
    """

    def __init__(
        self,
        handler_path: str,
        function_name: str,
        timeout_s: float,
        init_timeout_s: float = CONTAINER_INIT_TIMEOUT_S,
    ) -> None:
        self._handler_path = handler_path
        self._function_name = function_name
        self._timeout_s = timeout_s
        self._init_timeout_s = init_timeout_s
        self._spawn = multiprocessing.get_context("spawn")
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None

    def start(self) -> None:
        """Start the process and wait until the handler is imported and warm."""
        self.close()
        parent_end, child_end = self._spawn.Pipe()
        process = self._spawn.Process(
            target=_run_container,
            args=(child_end, self._handler_path, self._function_name, self._timeout_s),
            name=f"{self._function_name}-container",
            daemon=True,
        )
        process.start()
        child_end.close()
        self._process, self._conn = process, parent_end
        if not parent_end.poll(self._init_timeout_s):
            self.close()
            raise InvocationTimedOut(f"init took over {self._init_timeout_s:.0f} s")
        kind, detail = self._receive()
        if kind != "ready":
            self.close()
            raise RuntimeError(f"the handler failed to start:\n{detail}")

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        if self._process is None or not self._process.is_alive():
            self.start()
        conn = self._conn
        assert conn is not None
        try:
            conn.send(event)
        except (BrokenPipeError, OSError):
            self.close()
            raise ContainerDied("the handler's process was gone") from None
        if not conn.poll(self._timeout_s):
            self.close()
            raise InvocationTimedOut(
                f"invocation ran past the {self._timeout_s:g} s timeout and was stopped"
            )
        kind, detail = self._receive()
        if kind == "error":
            raise RuntimeError(f"the handler raised:\n{detail}")
        return detail

    def _receive(self) -> tuple[str, Any]:
        assert self._conn is not None
        try:
            kind, detail = self._conn.recv()
        except (EOFError, OSError):
            code = None if self._process is None else self._process.exitcode
            self.close()
            raise ContainerDied(f"the handler's process died (exit code {code})") from None
        return str(kind), detail

    def close(self) -> None:
        """Stop the process (if any) at once."""
        process, conn = self._process, self._conn
        self._process, self._conn = None, None
        if conn is not None:
            conn.close()
        if process is not None:
            if process.is_alive():
                process.kill()
            process.join(timeout=5)


def _run_container(
    conn: Connection, handler_path: str, function_name: str, timeout_s: float
) -> None:
    """The container process: import the handler and warm it with an empty batch (clients
    built, model loaded, as during a Lambda environment's init), then serve invocations."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides when this process ends
    exit_with_parent()
    try:
        handler = import_handler(handler_path)
        handler({"Records": []}, LocalLambdaContext(function_name, timeout_s))
    except Exception:
        conn.send(("error", traceback.format_exc()))
        return
    conn.send(("ready", None))
    while True:
        try:
            event = conn.recv()
        except EOFError:
            return
        try:
            response = handler(event, LocalLambdaContext(function_name, timeout_s))
        except Exception:
            conn.send(("error", traceback.format_exc()))
        else:
            conn.send(("ok", response))


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
                "dataType": _data_type(value),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _data_type(value: Mapping[str, Any]) -> str:
    # SQS always names it, but moto 5.1.18 leaves it out of attributes that SNS delivered: a
    # KeyError there failed every poll. Infer it from the value that is present, as the
    # handler only needs a well-formed record.
    data_type = value.get("DataType")
    if isinstance(data_type, str) and data_type:
        return data_type
    if value.get("BinaryValue") is not None or value.get("BinaryListValues"):
        return "Binary"
    return "String"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.worker", description=__doc__.splitlines()[0]
    )
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
    container = FunctionContainer(args.handler, config.function_name, config.function_timeout_s)
    container.start()  # the cold start, before the worker says it is ready
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if args.ready_file is not None:
        args.ready_file.write_text(json.dumps({"queue_url": config.queue_url}))
    log.info("polling %s for %s", config.queue_url, args.handler)
    try:
        SqsEventSource(boto3.client("sqs", region_name=config.region), container, config).run(
            stop,
            heartbeat=args.ready_file,
            health=None if args.ready_file is None else report_health_beside(args.ready_file),
        )
    finally:
        container.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
