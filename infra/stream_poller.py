"""Feed a DynamoDB stream into a Lambda handler the way Lambda's stream event source does.

Locally the observations table's stream (on moto) has no Lambda service behind it; this
poller stands in for the event source mapping of ``TrackerFunction`` in template.yaml:
each shard is read in order, up to ``batch_size`` records per invocation, handed over as
a real DynamoDB stream event, and the shard advances only when the handler succeeded (a
failed batch is delivered again, as Lambda retries it). One batch per shard at a time, as
with ``ParallelizationFactor: 1``.

    python -m infra.stream_poller --stream-arn ARN --handler lambdas.tracker.handler.lambda_handler

The local stack (infra/stack.py) runs one per stream trigger of template.yaml, supervised
like the SQS pollers: the handler runs in a ``FunctionContainer`` (killed past the
function timeout), the ready file is touched once per poll as a heartbeat, and a moto
hiccup backs off instead of ending the poller.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

from infra.local_lambda import Handler, LocalLambdaContext, exit_with_parent
from infra.polling import HealthReport, poll_until_stopped, report_health_beside
from infra.worker import FunctionContainer

log = logging.getLogger("infra.stream_poller")

POLL_INTERVAL_S = 0.5


@dataclass(frozen=True)
class StreamSourceConfig:
    """The event source mapping's settings (see AWS::Lambda::EventSourceMapping)."""

    stream_arn: str
    function_name: str
    batch_size: int = 100
    starting_position: str = "LATEST"  # or TRIM_HORIZON
    timeout_s: int = 30


@dataclass
class StreamSource:
    """The shards of one stream, each with where it has been read up to."""

    streams: Any  # a boto3 ``dynamodbstreams`` client
    handler: Handler
    config: StreamSourceConfig
    region: str = "us-east-1"
    _iterators: dict[str, str | None] = field(default_factory=dict)

    def start(self) -> None:
        """Take an iterator for every shard at the starting position."""
        for shard_id in self._shard_ids():
            self._iterators.setdefault(shard_id, self._iterator(shard_id))

    def poll_once(self) -> int:
        """One batch from each shard that has records; returns how many were handed over.

        A handler that raises leaves its shard where it was: the batch comes again.
        """
        self.start()  # shards opened since the last poll
        handed = 0
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue  # a closed shard, read to its end
            response = self.streams.get_records(
                ShardIterator=iterator, Limit=self.config.batch_size
            )
            records = response.get("Records", [])
            if records:
                event = {"Records": [self._lambda_record(record) for record in records]}
                context = LocalLambdaContext(self.config.function_name, self.config.timeout_s)
                try:
                    self.handler(event, context)
                except Exception:
                    log.exception(
                        "%s failed a batch of %d records", self.config.function_name, len(records)
                    )
                    continue
                handed += len(records)
            self._iterators[shard_id] = response.get("NextShardIterator")
        return handed

    def run(
        self,
        stop: threading.Event,
        interval_s: float = POLL_INTERVAL_S,
        heartbeat: Path | None = None,
        jitter: Callable[[], float] = random.random,
        health: HealthReport | None = None,
    ) -> None:
        """Poll until ``stop`` (``infra.polling``: heartbeat, backoff with jitter, health)."""
        poll_until_stopped(
            lambda: self.poll_once() > 0,
            stop,
            log,
            idle_wait_s=interval_s,
            heartbeat=None if heartbeat is None else heartbeat.touch,
            jitter=jitter,
            health=health,
        )

    def _shard_ids(self) -> list[str]:
        description = self.streams.describe_stream(StreamArn=self.config.stream_arn)
        return [shard["ShardId"] for shard in description["StreamDescription"]["Shards"]]

    def _iterator(self, shard_id: str) -> str:
        return str(
            self.streams.get_shard_iterator(
                StreamArn=self.config.stream_arn,
                ShardId=shard_id,
                ShardIteratorType=self.config.starting_position,
            )["ShardIterator"]
        )

    def _lambda_record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A GetRecords record in the shape Lambda delivers it (epoch seconds, source ARN)."""
        shaped = dict(record)
        change = dict(shaped.get("dynamodb", {}))
        created = change.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            change["ApproximateCreationDateTime"] = int(created.timestamp())
        shaped["dynamodb"] = change
        shaped["eventSourceARN"] = self.config.stream_arn
        shaped.setdefault("awsRegion", self.region)
        return shaped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.stream_poller", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--stream-arn", required=True)
    parser.add_argument("--handler", required=True, help="module.function")
    parser.add_argument("--function-name", default="tracker")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--starting-position", choices=("LATEST", "TRIM_HORIZON"), default="LATEST")
    parser.add_argument("--function-timeout-s", type=float, default=30.0)
    parser.add_argument("--endpoint-url", default=None, help="moto server, for the local stack")
    parser.add_argument("--ready-file", type=Path, help="written once the handler is warm")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s stream %(message)s")
    exit_with_parent()
    container = FunctionContainer(args.handler, args.function_name, args.function_timeout_s)
    try:
        container.start()  # the cold start, before the poller says it is ready
    except Exception as exc:  # it failed to import, or its init ran out of time
        print(f"cannot load handler {args.handler}: {exc}", file=sys.stderr)
        return 2
    streams = boto3.client("dynamodbstreams", endpoint_url=args.endpoint_url)
    config = StreamSourceConfig(
        args.stream_arn,
        args.function_name,
        args.batch_size,
        starting_position=args.starting_position,
        timeout_s=int(args.function_timeout_s),
    )
    source = StreamSource(streams, container, config, region=streams.meta.region_name)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if args.ready_file is not None:
        args.ready_file.write_text(json.dumps({"stream_arn": args.stream_arn}))
    log.info("polling %s for %s", args.stream_arn, args.handler)
    try:
        source.run(
            stop,
            heartbeat=args.ready_file,
            health=None if args.ready_file is None else report_health_beside(args.ready_file),
        )
    finally:
        container.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
