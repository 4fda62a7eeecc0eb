"""Handlers the worker tests run in a FunctionContainer (a separate process imports them)."""

from __future__ import annotations

import os
import time


def sleepy(event, context):
    """Sleeps a minute on a record whose body is "slow"; succeeds on the others."""
    for record in event["Records"]:
        if record["body"] == "slow":
            time.sleep(60)
    return {"batchItemFailures": []}


def dying(event, context):
    """Its process dies on a record whose body is "die" (as under kill -9)."""
    for record in event["Records"]:
        if record["body"] == "die":
            os._exit(137)
    return {"batchItemFailures": []}


def pid(event, context):
    """Says which process served the invocation."""
    return {"batchItemFailures": [], "pid": os.getpid()}
