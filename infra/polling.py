"""The poll loop the queue and stream pollers share (``infra.worker``, ``infra.stream_poller``,
the GPU worker's receivers).

Lambda's event source mappings keep polling whatever happens: a source that cannot be
reached is retried with growing delays, jittered so that several pollers do not retry in
step, and the poll goes on when it answers again. Locally the pollers also beat a
heartbeat (touch a file) once per poll, so the local stack (``infra/stack.py``) can tell a hung
poller from an idle one.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

# Backoff while the source cannot be reached: doubling from the first delay up to the cap,
# each delay half fixed and half random.
BACKOFF_FIRST_S = 0.5
BACKOFF_CAP_S = 30.0


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
) -> None:
    """Call ``poll_once`` until ``stop`` is set.

    ``poll_once`` says whether it found work; when it did not, the loop waits
    ``idle_wait_s`` (0 for a source that long-polls itself). An exception from it is
    one warning line (the traceback only at debug level) and a backoff, never the end.
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
            stop.wait(delay_s)
            continue
        if failures:
            log.info("polling works again after %d failed attempts", failures)
            failures = 0
        if not found_work and idle_wait_s > 0:
            stop.wait(idle_wait_s)
