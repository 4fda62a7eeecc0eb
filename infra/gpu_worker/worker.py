"""Drain the frame-job queue for throughput, with the inference Lambda's semantics.

The stages, each off the others' critical path:

1. **Receivers** (``receivers`` threads) long-poll SQS, ten messages a call, and parse each
   job with ``lambdas.inference.events`` exactly as the Lambda does. A message that is not a
   frame job goes to the dead-letter queue with its reason and is deleted; S3's test event is
   deleted.
2. **Fetchers** (``fetchers`` threads) run ``fetch_frame`` per frame: key, idempotency check,
   camera, bounded download and decode. Frames that need no model are done here.
3. **The predictor thread** takes up to ``batch_frames`` fetched frames (waiting at most
   ``batch_window_s`` to fill a batch) and runs one ``predict_batch``: every face of every
   frame through the age/gender network in one call.
4. **Recorders** (``recorders`` threads) run ``record_frame`` per frame. Observations are
   written one conditional PutItem each, concurrently, not with BatchWriteItem: the condition
   (no observation yet for this camera and time) is what makes a redelivered job harmless, and
   BatchWriteItem takes no conditions.
5. A job whose frames are all done is settled: deleted in DeleteMessageBatch calls of up to
   ten, after its unrecordable frames (if any) are dead-lettered with their reasons, as the
   Lambda's handler does. A job with a failed frame (an AWS error, the model raising) is left
   on the queue, so SQS delivers it again after the visibility timeout and its redrive policy
   moves it to the dead-letter queue after maxReceiveCount receives.

At most ``max_frames_in_flight`` frames are between receiving and settling; receivers wait
while the pipeline is that full, so a slow model never lets messages time out unprocessed.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from infra.gpu_worker.batch_predictor import BatchPredictor
from infra.polling import poll_until_stopped
from infra.worker import sqs_event
from lambdas.inference.dead_letters import DeadLetters
from lambdas.inference.events import (
    FrameRef,
    NotAFrameJob,
    frame_refs,
    is_test_event,
    parse_frame_job,
)
from lambdas.inference.frames import (
    FetchedFrame,
    FrameDependencies,
    FrameOutcome,
    fetch_frame,
    record_frame,
)

log = logging.getLogger("infra.gpu_worker")

# SQS returns at most ten messages a call and deletes at most ten per batch call.
SQS_MAX_BATCH = 10


@dataclass(frozen=True)
class WorkerConfig:
    """How the worker drains the queue; ``python -m infra.gpu_worker --help`` explains each."""

    queue_url: str
    receivers: int = 4
    fetchers: int = 16
    recorders: int = 16
    batch_frames: int = 64
    batch_window_s: float = 0.02
    max_frames_in_flight: int = 512
    poll_wait_s: int = 20  # SQS long polling: at most 20 s


@dataclass
class _Job:
    """One received message and the frames it announced, until it is settled."""

    message: dict[str, Any]
    frames_left: int
    outcomes: list[FrameOutcome] = field(default_factory=list)
    failed: bool = False


class GpuWorker:
    """Start with ``run(stop)``; it returns once ``stop`` is set and in-flight jobs settled."""

    def __init__(
        self,
        sqs: Any,
        config: WorkerConfig,
        predictor: BatchPredictor,
        dependencies: Callable[[], FrameDependencies],
        dead_letters: DeadLetters | None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        """``dependencies`` builds one FrameDependencies per thread (boto3 resources are not
        thread-safe); its ``predictor`` is only asked for its ``model_version``."""
        self._sqs = sqs
        self.config = config
        self._predictor = predictor
        self._dependencies = dependencies
        self._dead_letters = dead_letters
        self._jitter = jitter
        self._local = threading.local()
        self._lock = threading.Condition()
        self._in_flight = 0
        self._fetched: queue.Queue[tuple[_Job, FetchedFrame]] = queue.Queue()
        self._settled: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stats: Counter[str] = Counter()
        attributes = sqs.get_queue_attributes(
            QueueUrl=config.queue_url, AttributeNames=["QueueArn"]
        )
        self._queue_arn = str(attributes["Attributes"]["QueueArn"])
        self._region = self._queue_arn.split(":")[3]

    # ------------------------------------------------------------------ running
    def run(self, stop: threading.Event, heartbeat: Callable[[], None] | None = None) -> None:
        """Drain the queue until ``stop``; ``heartbeat`` is called at least once a poll."""
        config = self.config
        finished = threading.Event()  # set once receivers stopped and nothing is in flight
        fetchers = ThreadPoolExecutor(config.fetchers, thread_name_prefix="fetch")
        recorders = ThreadPoolExecutor(config.recorders, thread_name_prefix="record")
        threads = [
            threading.Thread(target=self._receive_loop, args=(stop, fetchers, heartbeat))
            for _ in range(config.receivers)
        ]
        predicting = threading.Thread(target=self._predict_loop, args=(finished, recorders))
        deleting = threading.Thread(target=self._delete_loop, args=(finished,))
        for thread in [*threads, predicting, deleting]:
            thread.daemon = True
            thread.start()
        for thread in threads:
            thread.join()
        with self._lock:
            self._lock.wait_for(lambda: self._in_flight == 0)
        finished.set()
        predicting.join()
        deleting.join()
        fetchers.shutdown()
        recorders.shutdown()

    def _receive_loop(
        self,
        stop: threading.Event,
        fetchers: ThreadPoolExecutor,
        heartbeat: Callable[[], None] | None,
    ) -> None:
        def receive_once() -> bool:
            with self._lock:
                # Room for a full receive, or wait (a second at a time, to notice stop).
                if not self._lock.wait_for(
                    lambda: self._in_flight + SQS_MAX_BATCH <= self.config.max_frames_in_flight,
                    timeout=1.0,
                ):
                    return False
            response = self._sqs.receive_message(
                QueueUrl=self.config.queue_url,
                MaxNumberOfMessages=SQS_MAX_BATCH,
                WaitTimeSeconds=self.config.poll_wait_s,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            for message in messages:
                self._accept(message, fetchers)
            return bool(messages)

        # SQS unreachable must not end the receiver: infra.polling backs off with jitter.
        poll_until_stopped(receive_once, stop, log, heartbeat=heartbeat, jitter=self._jitter)

    def _accept(self, message: dict[str, Any], fetchers: ThreadPoolExecutor) -> None:
        """Parse a job as the Lambda does and hand its frames to the fetchers."""
        [record] = sqs_event([message], self._queue_arn, self._region)["Records"]
        self._count("jobs_received")
        try:
            job = parse_frame_job(record)
        except NotAFrameJob as exc:
            self._settle(
                _Job(message, frames_left=0, failed=not self._dead_letter(message, exc.reason))
            )
            return
        refs = [] if is_test_event(job) else frame_refs(job)
        tracked = _Job(message, frames_left=len(refs))
        if not refs:
            self._settle(tracked)
            return
        with self._lock:
            self._in_flight += len(refs)
        for ref in refs:
            fetchers.submit(self._fetch, tracked, ref)

    def _fetch(self, job: _Job, ref: FrameRef) -> None:
        try:
            fetched = fetch_frame(ref, self._deps())
        except Exception:
            log.exception("fetching %s failed; its job stays on the queue", ref.key)
            self._frame_done(job, None)
            return
        if isinstance(fetched, FrameOutcome):
            self._frame_done(job, fetched)
        else:
            self._fetched.put((job, fetched))

    def _predict_loop(self, finished: threading.Event, recorders: ThreadPoolExecutor) -> None:
        while not finished.is_set():
            batch = self._next_batch()
            if not batch:
                continue
            looked_at = [(job, fetched) for job, fetched in batch if fetched.rgb is not None]
            try:
                faces = self._predictor.predict_batch(
                    [fetched.rgb for _, fetched in looked_at],
                    [fetched.min_face_px for _, fetched in looked_at],
                )
            except Exception:
                log.exception(
                    "the model failed on a batch of %d frames; their jobs stay", len(looked_at)
                )
                for job, _ in looked_at:
                    self._frame_done(job, None)
                batch = [(job, fetched) for job, fetched in batch if fetched.rgb is None]
                faces = []
            faces_of = {
                id(fetched): found for (_, fetched), found in zip(looked_at, faces, strict=False)
            }
            self._count("batches")
            self._count("frames_predicted", len(looked_at))
            for job, fetched in batch:
                recorders.submit(self._record, job, fetched, faces_of.get(id(fetched), []))

    def _next_batch(self) -> list[tuple[_Job, FetchedFrame]]:
        """The first fetched frame within 0.2 s, then as many more as arrive within the
        batching window, up to ``batch_frames``."""
        try:
            batch = [self._fetched.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.config.batch_window_s
        while len(batch) < self.config.batch_frames:
            remaining = deadline - time.monotonic()
            try:
                batch.append(
                    self._fetched.get(timeout=remaining)
                    if remaining > 0
                    else self._fetched.get_nowait()
                )
            except queue.Empty:
                break
        return batch

    def _record(self, job: _Job, fetched: FetchedFrame, faces: Any) -> None:
        try:
            outcome = record_frame(fetched, faces, self._deps())
        except Exception:
            log.exception("recording %s failed; its job stays on the queue", fetched.ref.key)
            self._frame_done(job, None)
            return
        self._frame_done(job, outcome)

    # ------------------------------------------------------------------ settling
    def _frame_done(self, job: _Job, outcome: FrameOutcome | None) -> None:
        """One frame of ``job`` is finished (None: it failed); settle the job after its last."""
        with self._lock:
            if outcome is None:
                job.failed = True
            else:
                job.outcomes.append(outcome)
                self.stats[f"frames_{outcome.result}"] += 1  # under the lock
            job.frames_left -= 1
            last = job.frames_left == 0
        if last:
            self._settle(job)
        with self._lock:
            self._in_flight -= 1
            self._lock.notify_all()

    def _settle(self, job: _Job) -> None:
        """Delete the job's message, after dead-lettering its unrecordable frames; or leave it
        for redelivery when a frame failed."""
        unrecordable = [f"{o.key}: {o.reason}" for o in job.outcomes if o.result == "unrecordable"]
        if not job.failed and unrecordable:
            job.failed = not self._dead_letter(job.message, "; ".join(unrecordable))
        if job.failed:
            self._count("jobs_left_for_retry")
            return
        self._settled.put(job.message)

    def _dead_letter(self, message: dict[str, Any], reason: str) -> bool:
        """Park a job that can never succeed; False when it must stay on the queue instead
        (no dead-letter queue configured, or the send failed), as in the Lambda."""
        message_id = str(message.get("MessageId", ""))
        log.warning("job %s can never succeed: %s", message_id, reason)
        if self._dead_letters is None:
            return False
        try:
            self._dead_letters.send(str(message.get("Body", "")), reason, message_id=message_id)
        except Exception:
            log.exception("dead-lettering %s failed; it stays on the queue", message_id)
            return False
        self._count("jobs_dead_lettered")
        return True

    def _delete_loop(self, finished: threading.Event) -> None:
        """Delete settled messages, up to ten per call."""
        while not (finished.is_set() and self._settled.empty()):
            try:
                messages = [self._settled.get(timeout=0.2)]
            except queue.Empty:
                continue
            while len(messages) < SQS_MAX_BATCH:
                try:
                    messages.append(self._settled.get_nowait())
                except queue.Empty:
                    break
            self._delete(messages)

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        try:
            response = self._sqs.delete_message_batch(
                QueueUrl=self.config.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
        except Exception:
            # Redelivered, they find their frames observed and are only deleted again.
            log.exception(
                "deleting %d settled messages failed; SQS will redeliver them", len(messages)
            )
            return
        failed = response.get("Failed", [])
        if failed:
            log.warning("SQS did not delete %d settled messages: %s", len(failed), failed[:3])
        self._count("jobs_done", len(messages) - len(failed))

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.stats[name] += n

    def snapshot(self) -> dict[str, int]:
        """The counters so far: jobs received, done, dead-lettered, left for retry; frames
        by result; batches and frames through the model."""
        with self._lock:
            return dict(self.stats)

    def _deps(self) -> FrameDependencies:
        deps = getattr(self._local, "deps", None)
        if deps is None:
            deps = self._local.deps = self._dependencies()
        return deps
