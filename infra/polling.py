"""The poll loop the queue and stream pollers share (``infra.worker``, ``infra.stream_poller``,
the GPU worker's receivers).

Lambda's event source mappings keep polling whatever happens: a source that cannot be
reached is retried with growing delays, jittered so that several pollers do not retry in
step, and the poll goes on when it answers again. Locally the pollers also beat a
heartbeat (touch a file) once per poll, so the local stack (``infra/stack.py``) can tell a hung
poller from an idle one. A poller whose polls keep failing is alive but does nothing: after
``UNHEALTHY_AFTER_FAILURES`` in a row it says so in one error line and reports itself
unhealthy (a file beside its ready file, which the local stack reports), until a poll works.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from pathlib import Path

# Backoff while the source cannot be reached: doubling from the first delay up to the cap,
# each delay half fixed and half random.
BACKOFF_FIRST_S = 0.5
BACKOFF_CAP_S = 30.0
# A source that fails this many polls in a row is not a hiccup (about 15 s of backoff): a
# KeyError on every message, moto gone, credentials wrong. Say so once, loudly.
UNHEALTHY_AFTER_FAILURES = 5

HealthReport = Callable[[str | None], None]
"""Called with why the poller is unhealthy, or None when it works again."""


def unhealthy_file(ready_file: Path) -> Path:
    """Where a poller with this ready file says why it is unhealthy; absent while healthy."""
    return ready_file.with_name(ready_file.name + ".unhealthy")


def report_health_beside(ready_file: Path) -> HealthReport:
    """A ``HealthReport`` that writes (or removes) ``unhealthy_file(ready_file)``."""

    def report(reason: str | None) -> None:
        path = unhealthy_file(ready_file)
        if reason is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(reason + "\n")

    return report


def backoff_delay_s(failures: int, jitter: float) -> float:
    """The wait after the ``failures``-th failure in a row; ``jitter`` is uniform in [0, 1)."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_FIRST_S * 2 ** min(failures - 1, 32))
    return ceiling / 2 + jitter * ceiling / 2


def poll_until_stopped(
    poll_once: Callable[[], bool],
    stop: threading.Event,
    log: logging.Logger,
    idle_wait_s: float = 0.0,
    heartbeat: Callable[[], None] | None = None,
    jitter: Callable[[], float] = random.random,
    health: HealthReport | None = None,
) -> None:
    """Call ``poll_once`` until ``stop`` is set.

    ``poll_once`` says whether it found work; when it did not, the loop waits
    ``idle_wait_s`` (0 for a source that long-polls itself). An exception from it is
    one warning line (the traceback only at debug level) and a backoff, never the end;
    the ``UNHEALTHY_AFTER_FAILURES``-th in a row is also one error line and ``health(reason)``,
    and the first poll that works again ``health(None)``.
    """
    failures = 0
    while not stop.is_set():
        if heartbeat is not None:
            heartbeat()
        try:
            found_work = poll_once()
        except Exception as exc:  # a moto or network hiccup must not end the poller
            failures += 1
            delay_s = backoff_delay_s(failures, jitter())
            log.warning(
                "polling failed (%s: %s); attempt %d, retrying in %.1f s",
                type(exc).__name__,
                str(exc)[:200],
                failures,
                delay_s,
            )
            log.debug("polling failure", exc_info=True)
            if failures == UNHEALTHY_AFTER_FAILURES:
                reason = (
                    f"polling failed {failures} times in a row, last with"
                    f" {type(exc).__name__}: {str(exc)[:200]}; nothing is processed until it works"
                )
                log.error("unhealthy: %s", reason)
                if health is not None:
                    health(reason)
            stop.wait(delay_s)
            continue
        if failures:
            log.info("polling works again after %d failed attempts", failures)
            if failures >= UNHEALTHY_AFTER_FAILURES and health is not None:
                health(None)
            failures = 0
        if not found_work and idle_wait_s > 0:
            stop.wait(idle_wait_s)
