"""Run Lambda handlers locally the way the Lambda runtime calls them: a handler named by its
dotted path (as in template.yaml) and a context object with the runtime's attributes."""

from __future__ import annotations

import importlib
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.template import LOCAL_ACCOUNT_ID

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LocalLambdaContext:
    """The attributes of ``LambdaContext`` that handlers and Powertools read."""

    function_name: str
    timeout_s: float
    memory_limit_in_mb: int = 128
    region: str = "us-east-1"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started_at: float = field(default_factory=time.monotonic)
    function_version: str = "$LATEST"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{LOCAL_ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self.started_at
        return max(0, int((self.timeout_s - elapsed) * 1000))


def import_handler(dotted_path: str) -> Handler:
    """Import "package.module.function" the way the Lambda Python runtime resolves a handler."""
    module_name, _, function_name = dotted_path.rpartition(".")
    if not module_name:
        raise ValueError(f"handler must be module.function, got {dotted_path!r}")
    handler = getattr(importlib.import_module(module_name), function_name, None)
    if not callable(handler):
        raise ValueError(f"{dotted_path} is not a function")
    return handler


def exit_with_parent(poll_s: float = 1.0) -> None:
    """End this process when the process that started it is gone (e.g. a killed stack),
    so a local worker or server never outlives the moto server it talks to."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
