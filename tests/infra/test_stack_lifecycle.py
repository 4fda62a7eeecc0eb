"""The local stack's lifecycle helpers: the port probe, stale outputs, stopped processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from infra.polling import report_health_beside
from infra.stack import (
    LocalStack,
    StackError,
    StackOptions,
    _free_port,
    _is_stopped,
    remove_stale_outputs,
)


def _leave_a_time_wait_on(port_holder: socket.socket) -> int:
    """Close a connection from the listening side first, as a stopped server does: its end
    of the connection then lingers in TIME_WAIT on the listening port."""
    port = port_holder.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = port_holder.accept()
    accepted.close()
    time.sleep(0.05)
    client.close()
    port_holder.close()
    return int(port)


def test_a_port_left_in_time_wait_by_a_stopped_stack_can_be_used_at_once():
    # GIVEN a server that just closed its connections and stopped listening
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = _leave_a_time_wait_on(listener)
    # WHEN a new stack probes the same port
    # THEN the probe lets it have the port
    assert _free_port(port) == port


def test_a_port_something_listens_on_is_refused_with_a_clear_message():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(StackError, match=f"port {port} is in use"):
            _free_port(port)


def test_outputs_left_by_a_stack_that_is_gone_are_removed(tmp_path):
    # GIVEN outputs written by a process that no longer exists
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"stack_pid": gone.pid, "endpoint_url": "http://x"}))
    # WHEN a new stack makes way for its own
    remove_stale_outputs(outputs)
    # THEN the stale file is gone
    assert not outputs.exists()


def test_outputs_of_a_stack_that_still_runs_are_kept_and_the_start_refused(tmp_path):
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        outputs = tmp_path / "outputs.json"
        outputs.write_text(json.dumps({"stack_pid": running.pid}))
        with pytest.raises(StackError, match=f"pid {running.pid} is running"):
            remove_stale_outputs(outputs)
        assert outputs.exists()
    finally:
        running.kill()
        running.wait()


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc")
def test_a_process_stopped_with_sigstop_is_seen_as_stopped():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not _is_stopped(process.pid)
        process.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while not _is_stopped(process.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _is_stopped(process.pid)
    finally:
        process.kill()
        process.wait()


SLEEPER = ["-c", "import sys, time; open(sys.argv[-1], 'w').close(); time.sleep(60)"]


@pytest.fixture
def supervisor(tmp_path):
    stack = LocalStack(StackOptions(run_dir=tmp_path, outputs_path=tmp_path / "outputs.json"))
    (tmp_path / "logs").mkdir()
    (tmp_path / "run").mkdir()
    yield stack
    stack.stop()


def wait_ready(child) -> None:
    deadline = time.monotonic() + 10
    while not child.ready_file.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_a_killed_function_process_is_replaced_and_the_log_says_so(supervisor):
    # GIVEN a running function process
    child = supervisor._spawn("worker-0", SLEEPER, dict(os.environ))
    wait_ready(child)
    first = child.pid
    # WHEN it is killed with SIGKILL
    os.kill(first, signal.SIGKILL)
    child.process.wait()
    done = supervisor.supervise()
    # THEN a new one runs in its place, and the stack and the log say why
    assert done == [f"worker-0 exited with status -9; started a new one (pid {child.pid})"]
    assert child.pid != first and child.process.poll() is None
    assert "exited with status -9; replacing it" in child.log_path.read_text()
    assert json.loads(supervisor.pids_path.read_text())["worker-0"] == child.pid


def test_a_function_process_that_keeps_dying_stops_the_stack(supervisor):
    child = supervisor._spawn("worker-0", ["-c", "pass"], dict(os.environ))
    with pytest.raises(StackError, match="worker-0 exited with status 0"):
        for _ in range(10):
            child.process.wait()
            supervisor.supervise()


def test_the_death_of_moto_stops_the_stack_since_its_data_is_gone(supervisor):
    child = supervisor._spawn("moto", SLEEPER, dict(os.environ), replaceable=False)
    child.process.kill()
    child.process.wait()
    with pytest.raises(StackError, match="moto exited"):
        supervisor.supervise()


def test_a_stopped_function_process_is_taken_for_hung_and_replaced(supervisor, monkeypatch):
    monkeypatch.setattr("infra.stack.STOPPED_GRACE_S", 0.1)
    child = supervisor._spawn("worker-0", SLEEPER, dict(os.environ))
    wait_ready(child)
    first = child.pid
    os.kill(first, signal.SIGSTOP)
    deadline = time.monotonic() + 5
    done: list[str] = []
    while not done and time.monotonic() < deadline:
        done = supervisor.supervise()
        time.sleep(0.05)
    assert done and "was stopped for" in done[0] and child.pid != first


def test_a_poller_that_says_it_is_unhealthy_is_reported_by_the_stack(supervisor):
    # GIVEN a running worker
    child = supervisor._spawn("worker-0", SLEEPER, dict(os.environ))
    wait_ready(child)
    assert supervisor.supervise() == []
    # WHEN its polls keep failing (infra.polling reports it beside its ready file)
    report_health_beside(child.ready_file)("polling failed 5 times in a row")
    # THEN the stack says so once, and keeps it in its health until the poller recovers
    assert supervisor.supervise() == ["worker-0 is UNHEALTHY: polling failed 5 times in a row"]
    assert supervisor.supervise() == []
    assert supervisor.unhealthy == {"worker-0": "polling failed 5 times in a row"}
    report_health_beside(child.ready_file)(None)
    assert supervisor.supervise() == ["worker-0 is healthy again"]
    assert supervisor.unhealthy == {}
