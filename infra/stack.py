"""The whole pipeline on this machine: moto in server mode, provisioned from template.yaml,
with the inference worker and the ad server running the same handlers as in AWS.

    python -m infra.stack            # or: make stack

Writes .local/outputs.json once everything is ready and runs in the foreground until
Ctrl-C. Worker and ad-server logs go to .local/logs/.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from adserver.registry import DynamoDBRegistry
from infra.outputs import DEFAULT_OUTPUTS, StackOutputs
from infra.provision import (
    LocalEventSource,
    LocalFunction,
    ProvisionedStack,
    ProvisioningError,
    provision,
)
from infra.seed import SEED_DISPLAYS, SeedTokens, seed_registry
from infra.template import REPO_ROOT, load_template, translate

LOCAL_DIR = REPO_ROOT / ".local"
READY_TIMEOUT_S = 180.0


class StackError(RuntimeError):
    """The local stack could not start; the message says why and where to look."""


@dataclass(frozen=True)
class StackOptions:
    moto_port: int = 4566
    adserver_port: int = 8080
    outputs_path: Path = DEFAULT_OUTPUTS
    stack_name: str = "smart-displays"
    region: str = "us-east-1"
    workers: int = 2
    parameters: dict[str, str] = field(default_factory=lambda: {"Stage": "local"})
    run_dir: Path = LOCAL_DIR


@dataclass
class _Child:
    name: str
    process: subprocess.Popen[bytes]
    ready_file: Path
    log_path: Path


class LocalStack:
    """Start with ``with LocalStack(options) as stack:``; everything stops on exit."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self._moto: ThreadedMotoServer | None = None
        self._children: list[_Child] = []
        self.endpoint_url = ""
        self.outputs: dict[str, Any] = {}
        self.provisioned: ProvisionedStack | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        options = self.options
        self._logs_dir.mkdir(parents=True, exist_ok=True)
        self._state_dir.mkdir(parents=True, exist_ok=True)
        options.outputs_path.unlink(missing_ok=True)

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per moto request
        self._moto = ThreadedMotoServer(
            ip_address="127.0.0.1", port=_free_port(options.moto_port), verbose=False
        )
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"

        session = boto3.session.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name=options.region
        )
        template = translate(load_template(), options.parameters, region=options.region)
        stack = provision(
            template,
            session,
            stack_name=options.stack_name,
            parameters=options.parameters,
            endpoint_url=self.endpoint_url,
        )
        self.provisioned = stack
        registry_table = session.resource("dynamodb", endpoint_url=self.endpoint_url).Table(
            stack.outputs["RegistryTableName"]
        )
        tokens = seed_registry(DynamoDBRegistry(registry_table))

        for source in stack.event_sources:
            function = stack.functions[source.function]
            for index in range(options.workers):
                self._start_worker(f"worker-{index}", function, source)
        adserver_urls = [
            self._start_http_function(stack.functions[logical_id], options.adserver_port)
            for logical_id in stack.http_functions
        ]
        self._wait_until_ready()
        self.outputs = self._outputs(stack, tokens, adserver_urls[0] if adserver_urls else "")
        _write_json_atomically(options.outputs_path, self.outputs)

    def stop(self) -> None:
        for child in self._children:
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in self._children:
            try:
                child.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        self._children.clear()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        self._remove_outputs_if_ours()

    def _remove_outputs_if_ours(self) -> None:
        # Another stack may have been started on the same outputs path since; leave its file.
        path = self.options.outputs_path
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        if document.get("endpoint_url") == self.endpoint_url:
            path.unlink(missing_ok=True)

    def wait(self) -> None:
        """Block until interrupted; raise StackError if a component dies meanwhile."""
        while True:
            time.sleep(0.5)
            self._raise_if_a_child_died()

    # ------------------------------------------------------------------ children
    @property
    def _logs_dir(self) -> Path:
        return self.options.run_dir / "logs"

    @property
    def _state_dir(self) -> Path:
        return self.options.run_dir / "run"

    def _function_environment(self, function: LocalFunction) -> dict[str, str]:
        """What the Lambda runtime would set, plus moto's endpoint for every AWS client."""
        inherited = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        return {
            **inherited,
            **function.environment,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_REGION": self.options.region,
            "AWS_DEFAULT_REGION": self.options.region,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "PYTHONUNBUFFERED": "1",
        }

    def _start_worker(self, name: str, function: LocalFunction, source: LocalEventSource) -> None:
        queue_url = self._local_queue_url(source.queue_url)
        command = [
            "-m",
            "infra.worker",
            "--queue-url",
            queue_url,
            "--queue-arn",
            source.queue_arn,
            "--handler",
            function.handler,
            "--function-name",
            function.name,
            "--batch-size",
            str(source.batch_size),
            "--batching-window-s",
            str(source.batching_window_s),
            "--function-timeout-s",
            str(function.timeout_s),
        ]
        if not source.report_batch_item_failures:
            command.append("--no-report-batch-item-failures")
        self._spawn(name, command, self._function_environment(function))

    def _start_http_function(self, function: LocalFunction, port: int) -> str:
        port = _free_port(port)
        command = [
            "-m",
            "adserver.local_server",
            "--port",
            str(port),
            "--handler",
            function.handler,
            "--timeout-s",
            str(function.timeout_s),
        ]
        self._spawn("adserver", command, self._function_environment(function))
        return f"http://127.0.0.1:{port}"

    def _spawn(self, name: str, arguments: list[str], env: dict[str, str]) -> None:
        ready_file = self._state_dir / f"{name}.ready"
        ready_file.unlink(missing_ok=True)
        log_path = self._logs_dir / f"{name}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, *arguments, "--ready-file", str(ready_file)],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the stack, which stops them in order
            )
        self._children.append(_Child(name, process, ready_file, log_path))

    def _local_queue_url(self, queue_url: str) -> str:
        # moto answers with the URL of the host it was asked on; ask it the local one.
        name = queue_url.rstrip("/").rsplit("/", 1)[-1]
        sqs = boto3.client(
            "sqs",
            endpoint_url=self.endpoint_url,
            region_name=self.options.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not all(child.ready_file.exists() for child in self._children):
            self._raise_if_a_child_died()
            if time.monotonic() > deadline:
                waiting = [c.name for c in self._children if not c.ready_file.exists()]
                raise StackError(f"not ready after {READY_TIMEOUT_S:.0f} s: {', '.join(waiting)}")
            time.sleep(0.1)

    def _raise_if_a_child_died(self) -> None:
        for child in self._children:
            code = child.process.poll()
            if code is not None:
                tail = child.log_path.read_text(errors="replace").splitlines()[-15:]
                raise StackError(
                    f"{child.name} exited with status {code}; last lines of {child.log_path}:\n"
                    + "\n".join(tail)
                )

    # ------------------------------------------------------------------ outputs
    def _outputs(
        self, stack: ProvisionedStack, tokens: SeedTokens, adserver_url: str
    ) -> dict[str, Any]:
        return {
            "endpoint_url": self.endpoint_url,
            "region": self.options.region,
            "frames_bucket": stack.outputs["FramesBucketName"],
            "adserver_url": adserver_url,
            "operator_token": tokens.operator,
            "displays": {
                display.display_id: {
                    "token": tokens.displays[display.display_id],
                    "store": display.store,
                    "cameras": list(display.cameras),
                }
                for display in SEED_DISPLAYS
            },
            "cameras": {camera: {"token": token} for camera, token in tokens.cameras.items()},
            "stack_name": stack.stack_name,
            "jobs_queue_url": self._local_queue_url(stack.outputs["JobsQueueUrl"]),
            "dead_letter_queue_url": self._local_queue_url(stack.outputs["JobsDeadLetterQueueUrl"]),
            "observations_table": stack.outputs["ObservationsTableName"],
            "registry_table": stack.outputs["RegistryTableName"],
            "logs_dir": str(self._logs_dir),
        }


def start_in_background(
    run_dir: Path, timeout_s: float = READY_TIMEOUT_S
) -> tuple[subprocess.Popen[bytes], StackOutputs]:
    """``python -m infra.stack`` on free ports with its outputs and logs under ``run_dir``;
    returns once it is ready. Stop it with ``stop_background``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    outputs_path = run_dir / "outputs.json"
    outputs_path.unlink(missing_ok=True)
    log_path = run_dir / "stack.log"
    ports = ["--port", "0", "--adserver-port", "0"]
    places = ["--outputs", str(outputs_path), "--run-dir", str(run_dir)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.stack", *ports, *places],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout_s
    while not outputs_path.exists():
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-12:]
            raise StackError("the local stack did not start:\n  " + "\n  ".join(tail))
        if time.monotonic() > deadline:
            stop_background(process)
            raise StackError(f"the local stack was not ready in {timeout_s:.0f} s ({log_path})")
        time.sleep(0.2)
    return process, StackOutputs.read(outputs_path)


def stop_background(process: subprocess.Popen[bytes]) -> int:
    """Stop a stack started by ``start_in_background`` as Ctrl-C would; its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


def _free_port(preferred: int) -> int:
    """``preferred`` if it can be bound (0 picks any free port); StackError otherwise."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            raise StackError(
                f"port {preferred} is in use (another stack running?); choose another port"
            ) from None
        return int(probe.getsockname()[1])


def _write_json_atomically(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(document, indent=2))
    partial.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4566, help="moto server port (0: any free)")
    parser.add_argument("--adserver-port", type=int, default=8080, help="0: any free port")
    parser.add_argument("--outputs", type=Path, default=DEFAULT_OUTPUTS)
    parser.add_argument(
        "--run-dir", type=Path, default=LOCAL_DIR, help="where logs/ and run/ state go"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="concurrent inference pollers (Lambda scales out the same way, up to the"
        " event source's MaximumConcurrency)",
    )
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="template parameter override, e.g. DeleteFramesAfterProcessing=false",
    )
    args = parser.parse_args(argv)
    parameters = {"Stage": "local"}
    for item in args.parameter:
        name, _, value = item.partition("=")
        parameters[name] = value
    options = StackOptions(
        moto_port=args.port,
        adserver_port=args.adserver_port,
        outputs_path=args.outputs,
        workers=max(1, args.workers),
        parameters=parameters,
        run_dir=args.run_dir,
    )
    signal.signal(signal.SIGTERM, _interrupt)  # stop children in order, as on Ctrl-C
    started = time.monotonic()
    try:
        with LocalStack(options) as stack:
            outputs = stack.outputs
            print(
                f"stack ready in {time.monotonic() - started:.1f} s\n"
                f"  moto endpoint  {outputs['endpoint_url']}\n"
                f"  frames bucket  {outputs['frames_bucket']}\n"
                f"  ad server      {outputs['adserver_url']}\n"
                f"  outputs        {options.outputs_path}\n"
                f"  logs           {outputs['logs_dir']}\n"
                "Ctrl-C stops everything.",
                flush=True,
            )
            for note in stack.provisioned.notes if stack.provisioned else []:
                print(f"  note: {note}", flush=True)
            stack.wait()
    except (StackError, ProvisioningError) as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stack stopped", flush=True)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
