"""Invoke a Lambda handler on a timer the way an EventBridge schedule does.

Locally no EventBridge fires ``rate(1 minute)`` rules; this timer stands in for each schedule
of template.yaml that targets a function (``TrackerFunction``'s sweep): every ``--every-s``
seconds it hands the handler a scheduled event, shaped as EventBridge sends it, in a
``FunctionContainer`` (killed past the function timeout), touching its ready file as a
heartbeat. A failed invocation is logged and the next tick comes as usual, as with a rule.

    python -m infra.schedule --handler lambdas.tracker.handler.lambda_handler --every-s 10
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import signal
import sys
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.local_lambda import Handler, LocalLambdaContext, exit_with_parent
from infra.polling import poll_until_stopped
from infra.worker import FunctionContainer

log = logging.getLogger("infra.schedule")

_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86_400}


def rate_seconds(expression: str) -> float:
    """The period of an EventBridge ``rate(...)`` expression; cron() is not run locally."""
    match = _RATE.fullmatch(expression.strip())
    if match is None:
        raise ValueError(f"only rate() schedules run locally, not {expression!r}")
    return int(match.group(1)) * _UNIT_S[match.group(2).rstrip("s")]


def scheduled_event(rule_arn: str, region: str, now: datetime | None = None) -> dict[str, Any]:
    """What EventBridge hands a rule's Lambda target when the rule fires."""
    at = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": rule_arn.split(":")[4] if rule_arn.count(":") >= 5 else "000000000000",
        "time": at,
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def fire(
    handler: Handler, function_name: str, timeout_s: float, rule_arn: str, region: str
) -> bool:
    """One tick: invoke the handler once; a failure is logged, never raised."""
    try:
        handler(scheduled_event(rule_arn, region), LocalLambdaContext(function_name, timeout_s))
    except Exception:
        log.exception("%s failed its scheduled invocation", function_name)
    return False  # the timer always waits for the next tick


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.schedule", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--handler", required=True, help="module.function")
    parser.add_argument("--function-name", default="tracker")
    parser.add_argument("--every-s", type=float, default=60.0)
    parser.add_argument("--rule-arn", default="arn:aws:events:us-east-1:000000000000:rule/local")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--function-timeout-s", type=float, default=30.0)
    parser.add_argument("--ready-file", type=Path, help="written once the handler is warm")
    args = parser.parse_args(argv)
    if args.every_s <= 0:
        parser.error("--every-s must be positive")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s schedule %(message)s")
    exit_with_parent()
    container = FunctionContainer(args.handler, args.function_name, args.function_timeout_s)
    try:
        container.start()
    except Exception as exc:  # it failed to import, or its init ran out of time
        print(f"cannot load handler {args.handler}: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if args.ready_file is not None:
        args.ready_file.write_text(json.dumps({"every_s": args.every_s}))
    log.info("invoking %s every %g s", args.handler, args.every_s)
    try:
        poll_until_stopped(
            lambda: fire(
                container, args.function_name, args.function_timeout_s, args.rule_arn, args.region
            ),
            stop,
            log,
            idle_wait_s=args.every_s,
            heartbeat=None if args.ready_file is None else args.ready_file.touch,
        )
    finally:
        container.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
