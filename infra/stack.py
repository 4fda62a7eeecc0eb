"""The whole pipeline on this machine: moto in server mode, provisioned from template.yaml,
with the inference worker and the ad server running the same handlers as in AWS.

    python -m infra.stack            # or: make stack

Writes .local/outputs.json once everything is ready and runs in the foreground until
Ctrl-C or SIGTERM, which remove it again. Logs are appended to .local/logs/.

Like Lambda, the stack replaces a function's process that dies or hangs (a worker killed
with SIGKILL, stopped with SIGSTOP, or silent past its heartbeat) with a new one, while moto
and everything stored in it stay up. moto's data lives in its process's memory: it is gone
when the stack stops.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3

from adserver.index_page import local_links
from adserver.registry import DynamoDBRegistry
from infra.outputs import DEFAULT_OUTPUTS, StackOutputs
from infra.polling import unhealthy_file
from infra.provision import (
    LocalEventSource,
    LocalFunction,
    LocalSchedule,
    LocalStreamSource,
    ProvisionedStack,
    ProvisioningError,
    provision,
)
from infra.schedule import rate_seconds
from infra.seed import SEED_DISPLAYS, SeedTokens, seed_registry
from infra.template import REPO_ROOT, load_template, translate

LOCAL_DIR = REPO_ROOT / ".local"
INFERENCE_HANDLER = "lambdas.inference.handler.lambda_handler"
READY_TIMEOUT_S = 180.0
SUPERVISE_EVERY_S = 0.5
# A stopped (SIGSTOP) function process is replaced after this long; Lambda never pauses one.
STOPPED_GRACE_S = 5.0
# A worker beats once per poll; one that has not for this long (at least four function
# timeouts) is hung. Generous, so that a worker waiting on a paused moto is left alone.
MIN_HEARTBEAT_TIMEOUT_S = 120.0
# More restarts than this within the window is a crash loop: the stack stops and says why.
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
# Logs are appended across starts; one over this size is moved to NAME.log.1 first.
MAX_LOG_BYTES = 10 * 1024 * 1024
# A schedule fires at least this often locally: the tracker's sweep counts the people before
# a quiet spell within seconds on a laptop, where AWS's shortest rate is a minute.
LOCAL_SCHEDULE_MAX_S = 10.0


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
    # python -m infra.gpu_worker drains the jobs queue instead of the inference Lambda's pollers.
    gpu_worker: bool = False


@dataclass
class _Child:
    """A process of the stack and how to start it again."""

    name: str
    arguments: list[str]
    env: dict[str, str]
    ready_file: Path
    log_path: Path
    replaceable: bool  # a function's container; moto holds the data and is not
    heartbeat_timeout_s: float | None = None  # the ready file's mtime is its heartbeat
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    stopped_since: float | None = None
    beats_checked_after: float = 0.0  # no heartbeat verdict before this (monotonic)
    restarts: list[float] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0


class LocalStack:
    """Start with ``with LocalStack(options) as stack:``; everything stops on exit."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self._children: list[_Child] = []
        self.endpoint_url = ""
        self.outputs: dict[str, Any] = {}
        self.provisioned: ProvisionedStack | None = None
        # {child name: why} for the pollers that say their polls keep failing (infra.polling)
        self.unhealthy: dict[str, str] = {}
        self._last_tick = time.monotonic()

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
        remove_stale_outputs(options.outputs_path)

        moto = self._start_moto(options.moto_port)
        self._wait_until_ready()
        self.endpoint_url = str(json.loads(moto.ready_file.read_text())["endpoint_url"])

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
            if options.gpu_worker and function.handler == INFERENCE_HANDLER:
                self._start_gpu_worker(function, source)
                continue
            for index in range(options.workers):
                self._start_worker(f"worker-{index}", function, source)
        for stream_source in stack.stream_sources:
            self._start_stream_poller(stack.functions[stream_source.function], stream_source)
        for schedule in stack.schedules:
            self._start_schedule(stack.functions[schedule.function], schedule, stack)
        adserver_urls = [
            self._start_http_function(stack.functions[logical_id], options.adserver_port)
            for logical_id in stack.http_functions
        ]
        self._wait_until_ready()
        self._write_pids()
        self.outputs = self._outputs(stack, tokens, adserver_urls[0] if adserver_urls else "")
        _write_json_atomically(options.outputs_path, self.outputs)

    def stop(self) -> None:
        # Functions first, so none is cut off mid-call by moto going away.
        for group in ([c for c in self._children if c.replaceable], self._children):
            for child in group:
                if child.process is not None and child.process.poll() is None:
                    child.process.send_signal(signal.SIGCONT)  # a stopped process cannot exit
                    child.process.send_signal(signal.SIGTERM)
            for child in group:
                if child.process is None:
                    continue
                try:
                    child.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()
        self._children.clear()
        self._remove_outputs_if_ours()

    def _remove_outputs_if_ours(self) -> None:
        # Another stack may have been started on the same outputs path since; leave its file.
        path = self.options.outputs_path
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        if document.get("stack_pid") == os.getpid():
            path.unlink(missing_ok=True)

    def wait(self) -> None:
        """Block until interrupted, replacing function processes that die or hang; raise
        StackError if moto dies or a function keeps failing."""
        while True:
            time.sleep(SUPERVISE_EVERY_S)
            for line in self.supervise():
                print(f"stack: {line}", flush=True)

    # ------------------------------------------------------------------ supervision
    def supervise(self) -> list[str]:
        """One look at every process: replace the dead and the hung; what was done, in words."""
        now = time.monotonic()
        if now - self._last_tick > max(5.0, 10 * SUPERVISE_EVERY_S):
            # This process was itself paused (SIGSTOP, a suspended laptop): heartbeats are
            # stale for reasons no worker is to blame for, so give them a fresh period.
            for child in self._children:
                child.beats_checked_after = now + (child.heartbeat_timeout_s or 0.0)
                child.stopped_since = None
        self._last_tick = now
        done: list[str] = []
        for child in self._children:
            trouble = self._trouble(child, now)
            if trouble is None:
                continue
            if not child.replaceable:
                raise StackError(
                    f"{child.name} {trouble}; its data is gone. Last lines of {child.log_path}:\n"
                    + _tail(child.log_path)
                )
            self._replace(child, trouble, now)
            done.append(f"{child.name} {trouble}; started a new one (pid {child.pid})")
        if done:
            self._write_pids()
        return done + self._health_changes()

    def _health_changes(self) -> list[str]:
        """Update ``unhealthy`` from the pollers' reports; a line for each change."""
        changes: list[str] = []
        for child in self._children:
            try:
                reason: str | None = unhealthy_file(child.ready_file).read_text().strip()
            except FileNotFoundError:
                reason = None
            if reason and self.unhealthy.get(child.name) != reason:
                changes.append(f"{child.name} is UNHEALTHY: {reason}")
                self.unhealthy[child.name] = reason
            elif not reason and self.unhealthy.pop(child.name, None) is not None:
                changes.append(f"{child.name} is healthy again")
        return changes

    def _trouble(self, child: _Child, now: float) -> str | None:
        """Why ``child`` needs replacing, or None while it is healthy."""
        assert child.process is not None
        code = child.process.poll()
        if code is not None:
            return f"exited with status {code}"
        if not child.replaceable:
            return None  # moto paused on purpose is left alone
        if _is_stopped(child.pid):
            child.stopped_since = child.stopped_since or now
            if now - child.stopped_since > STOPPED_GRACE_S:
                return f"was stopped for {now - child.stopped_since:.0f} s (hung)"
            return None
        child.stopped_since = None
        if not child.ready_file.exists():
            if now - child.started_at > READY_TIMEOUT_S:
                return f"was not ready after {READY_TIMEOUT_S:.0f} s"
            return None
        if child.heartbeat_timeout_s is not None and now > child.beats_checked_after:
            silent_s = time.time() - child.ready_file.stat().st_mtime
            if silent_s > child.heartbeat_timeout_s:
                return f"sent no heartbeat for {silent_s:.0f} s (hung)"
        return None

    def _replace(self, child: _Child, trouble: str, now: float) -> None:
        assert child.process is not None
        if child.process.poll() is None:
            child.process.kill()  # SIGKILL ends a stopped process too
        child.process.wait()
        child.restarts = [t for t in child.restarts if now - t < RESTART_WINDOW_S] + [now]
        if len(child.restarts) > MAX_RESTARTS:
            raise StackError(
                f"{child.name} {trouble}, its {len(child.restarts)}th failure in"
                f" {RESTART_WINDOW_S:.0f} s; last lines of {child.log_path}:\n"
                + _tail(child.log_path)
            )
        with open(child.log_path, "ab") as log:
            log.write(f"--- stack: {child.name} {trouble}; replacing it\n".encode())
        self._launch(child)

    # ------------------------------------------------------------------ children
    @property
    def _logs_dir(self) -> Path:
        return self.options.run_dir / "logs"

    @property
    def _state_dir(self) -> Path:
        return self.options.run_dir / "run"

    @property
    def pids_path(self) -> Path:
        """{name: pid} of every process of the stack, rewritten when one is replaced."""
        return self._state_dir / "pids.json"

    def _start_moto(self, port: int) -> _Child:
        port = _free_port(port) if port else 0
        moto_env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        return self._spawn(
            "moto",
            ["-m", "infra.local_moto", "--port", str(port)],
            moto_env,
            replaceable=False,
        )

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
            "--queue-url",
            queue_url,
            "--queue-arn",
            source.queue_arn,
            "--batch-size",
            str(source.batch_size),
            "--batching-window-s",
            str(source.batching_window_s),
        ]
        if not source.report_batch_item_failures:
            command.append("--no-report-batch-item-failures")
        self._spawn_poller(name, "infra.worker", command, function)

    def _start_stream_poller(self, function: LocalFunction, source: LocalStreamSource) -> None:
        """One poller per stream trigger, as ParallelizationFactor 1 reads each shard in order.

        It starts at TRIM_HORIZON whatever the template says: the stream was created with this
        stack, so its horizon is where a new mapping's LATEST would be, and a replaced poller
        reads it again from there, the function skipping what it already handled (as it does
        for Lambda's retries) instead of losing what arrived while it was down.
        """
        command = [
            "--stream-arn",
            source.stream_arn,
            "--batch-size",
            str(source.batch_size),
            "--starting-position",
            "TRIM_HORIZON",
        ]
        self._spawn_poller(f"stream-{source.function}", "infra.stream_poller", command, function)

    def _start_schedule(
        self, function: LocalFunction, schedule: LocalSchedule, stack: ProvisionedStack
    ) -> None:
        """A timer per schedule of the template (the tracker's sweep), firing at the template's
        rate or every ``LOCAL_SCHEDULE_MAX_S``, whichever is sooner."""
        every_s = min(rate_seconds(schedule.expression), LOCAL_SCHEDULE_MAX_S)
        command = [
            "--every-s",
            str(every_s),
            "--rule-arn",
            stack.resources[schedule.logical_id].attributes["Arn"],
            "--region",
            self.options.region,
        ]
        self._spawn_poller(f"schedule-{schedule.logical_id}", "infra.schedule", command, function)

    def _spawn_poller(
        self, name: str, module: str, arguments: list[str], function: LocalFunction
    ) -> None:
        """An event source poller (``module``) invoking ``function``'s handler, with the
        function's environment and a heartbeat deadline of at least four of its timeouts."""
        command = [
            "-m",
            module,
            *arguments,
            "--handler",
            function.handler,
            "--function-name",
            function.name,
            "--function-timeout-s",
            str(function.timeout_s),
        ]
        heartbeat_timeout_s = max(MIN_HEARTBEAT_TIMEOUT_S, 4.0 * function.timeout_s)
        self._spawn(name, command, self._function_environment(function), heartbeat_timeout_s)

    def _start_gpu_worker(self, function: LocalFunction, source: LocalEventSource) -> None:
        """The GPU worker on the function's queue and environment; its receivers stand in
        for the pollers, and its short polls keep a stop quick."""
        command = [
            "-m",
            "infra.gpu_worker",
            "--queue-url",
            self._local_queue_url(source.queue_url),
            "--receivers",
            str(self.options.workers),
            "--poll-wait-s",
            "1",
        ]
        heartbeat_timeout_s = max(MIN_HEARTBEAT_TIMEOUT_S, 4.0 * function.timeout_s)
        self._spawn(
            "gpu-worker", command, self._function_environment(function), heartbeat_timeout_s
        )

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
            "--outputs",  # GET / then links every page with this stack's tokens
            str(self.options.outputs_path),
        ]
        self._spawn("adserver", command, self._function_environment(function))
        return f"http://127.0.0.1:{port}"

    def _spawn(
        self,
        name: str,
        arguments: list[str],
        env: dict[str, str],
        heartbeat_timeout_s: float | None = None,
        *,
        replaceable: bool = True,
    ) -> _Child:
        log_path = self._logs_dir / f"{name}.log"
        _rotate_if_large(log_path)
        child = _Child(
            name=name,
            arguments=[*arguments, "--ready-file", str(self._state_dir / f"{name}.ready")],
            env=env,
            ready_file=self._state_dir / f"{name}.ready",
            log_path=log_path,
            replaceable=replaceable,
            heartbeat_timeout_s=heartbeat_timeout_s,
        )
        self._launch(child)
        self._children.append(child)
        return child

    def _launch(self, child: _Child) -> None:
        child.ready_file.unlink(missing_ok=True)
        unhealthy_file(child.ready_file).unlink(missing_ok=True)
        with open(child.log_path, "ab") as log:
            started = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"--- stack: {child.name} starting at {started}\n".encode())
            log.flush()
            child.process = subprocess.Popen(
                [sys.executable, *child.arguments],
                cwd=REPO_ROOT,
                env=child.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the stack, which stops them in order
            )
        child.started_at = time.monotonic()
        child.stopped_since = None
        child.beats_checked_after = 0.0

    def _write_pids(self) -> None:
        document = {"stack": os.getpid(), **{c.name: c.pid for c in self._children}}
        _write_json_atomically(self.pids_path, document)

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
        # While starting, a death is a broken set-up, not bad luck: stop and say so.
        for child in self._children:
            code = child.process.poll() if child.process is not None else None
            if code is not None:
                raise StackError(
                    f"{child.name} exited with status {code}; last lines of {child.log_path}:\n"
                    + _tail(child.log_path)
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
            "tracks_table": stack.outputs["TracksTableName"],
            "rollups_table": stack.outputs["RollupsTableName"],
            "registry_table": stack.outputs["RegistryTableName"],
            "catalog_bucket": stack.outputs["CatalogBucketName"],
            "logs_dir": str(self._logs_dir),
            "stack_pid": os.getpid(),
            "pids_file": str(self.pids_path),
        }


def start_in_background(
    run_dir: Path, timeout_s: float = READY_TIMEOUT_S, extra_args: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[bytes], StackOutputs]:
    """``python -m infra.stack`` on free ports with its outputs and logs under ``run_dir``;
    returns once it is ready. Stop it with ``stop_background``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    outputs_path = run_dir / "outputs.json"
    outputs_path.unlink(missing_ok=True)
    log_path = run_dir / "stack.log"
    ports = ["--port", "0", "--adserver-port", "0"]
    places = ["--outputs", str(outputs_path), "--run-dir", str(run_dir)]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.stack", *ports, *places, *extra_args],
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
    """``preferred`` if it can be bound (0 picks any free port); StackError otherwise.

    The probe sets SO_REUSEADDR as the servers themselves do: connections of a stack that
    just stopped linger in TIME_WAIT for a minute and must not block a restart, while a port
    that something still listens on is refused all the same.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            raise StackError(
                f"port {preferred} is in use (another stack running?); choose another port"
            ) from None
        return int(probe.getsockname()[1])


def remove_stale_outputs(path: Path) -> None:
    """Make way for a new stack's outputs: remove those of a stack that is gone (it crashed
    or was killed), refuse if the stack that wrote them is still running."""
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return
    except (OSError, ValueError):
        path.unlink(missing_ok=True)
        return
    pid = document.get("stack_pid")
    if isinstance(pid, int) and pid != os.getpid() and _is_running(pid):
        raise StackError(
            f"the stack with pid {pid} is running and owns {path};"
            " stop it first or pass another --outputs"
        )
    print(f"stack: removing {path}, left by a stack that did not stop cleanly", flush=True)
    path.unlink(missing_ok=True)


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_stopped(pid: int) -> bool:
    """Whether a process is stopped (SIGSTOP, or traced); Linux only, False elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the command name, which is in parentheses and may hold spaces.
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state in ("T", "t")


def _tail(log_path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _rotate_if_large(log_path: Path) -> None:
    if log_path.exists() and log_path.stat().st_size > MAX_LOG_BYTES:
        log_path.replace(log_path.with_name(log_path.name + ".1"))


def _write_json_atomically(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(document, indent=2))
    partial.replace(path)


def template_parameters(overrides: list[str], declared: dict[str, Any]) -> dict[str, str]:
    """``NAME=VALUE`` overrides checked against the template's Parameters (name, AllowedValues,
    MinValue/MaxValue), on top of Stage=local; StackError says what is wrong and what is allowed."""
    parameters = {"Stage": "local"}
    for item in overrides:
        name, equals, value = item.partition("=")
        if not equals or name not in declared:
            known = ", ".join(sorted(declared))
            raise StackError(f"--parameter {item!r}: expected NAME=VALUE with NAME one of {known}")
        spec = declared[name]
        allowed = [str(v) for v in spec.get("AllowedValues", [])]
        if allowed and value not in allowed:
            raise StackError(f"--parameter {name}={value!r}: allowed values are {allowed}")
        if spec.get("Type") == "Number":
            try:
                number = float(value)
            except ValueError:
                raise StackError(f"--parameter {name}={value!r}: must be a number") from None
            low, high = spec.get("MinValue"), spec.get("MaxValue")
            if (low is not None and number < float(low)) or (
                high is not None and number > float(high)
            ):
                raise StackError(f"--parameter {name}={value}: must be between {low} and {high}")
        parameters[name] = value
    return parameters


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.stack",
        description=" ".join(__doc__.split("\n\n")[0].split()),
        epilog="Writes --outputs once everything is ready; Ctrl-C or SIGTERM stops the stack"
        " and removes it. Logs are appended under RUN_DIR/logs.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=4566, help="moto server port (0: any free)")
    parser.add_argument(
        "--adserver-port", type=int, default=8080, help="ad server port (0: any free)"
    )
    parser.add_argument(
        "--outputs", type=Path, default=DEFAULT_OUTPUTS, help="where the stack's outputs go"
    )
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
        help="template parameter override, repeatable, checked against template.yaml's"
        " Parameters, e.g. DeleteFramesAfterProcessing=false (Stage is local unless given)",
    )
    parser.add_argument(
        "--gpu-worker",
        action="store_true",
        help="drain the jobs queue with python -m infra.gpu_worker (batched, --workers"
        " receivers) instead of the inference Lambda's pollers",
    )
    args = parser.parse_args(argv)
    try:
        parameters = template_parameters(args.parameter, load_template().get("Parameters", {}))
    except StackError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 2
    options = StackOptions(
        moto_port=args.port,
        adserver_port=args.adserver_port,
        outputs_path=args.outputs,
        workers=max(1, args.workers),
        parameters=parameters,
        run_dir=args.run_dir,
        gpu_worker=args.gpu_worker,
    )
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)  # stop children in order, as on Ctrl-C
    started = time.monotonic()
    try:
        with LocalStack(options) as stack:
            outputs = stack.outputs
            url = outputs["adserver_url"]
            pages = "".join(
                f"  {text}\n    {link}\n" for text, link in local_links(outputs, base=url)
            )
            print(
                f"stack ready in {time.monotonic() - started:.1f} s\n"
                f"  moto endpoint  {outputs['endpoint_url']}\n"
                f"  frames bucket  {outputs['frames_bucket']}\n"
                f"  ad server      {url}  (its front page links all of these)\n"
                f"{pages}"
                f"  outputs        {options.outputs_path}\n"
                f"  logs           {outputs['logs_dir']}\n"
                "A worker that dies or hangs is replaced. Ctrl-C stops everything;"
                " what moto holds goes with it.",
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
