"""python -m infra.gpu_worker: drain the frame-job queue in batches (see infra/gpu_worker).

Reads the inference function's environment (OBSERVATIONS_TABLE, DEAD_LETTER_QUEUE_URL,
REGISTRY_TABLE, ...: ``lambdas.inference.settings``) and the queue from --queue-url or
JOBS_QUEUE_URL. SIGTERM or Ctrl-C stops receiving, finishes the jobs in flight, and exits.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import boto3
from pydantic import ValidationError

from infra.gpu_worker.batch_predictor import load_batch_predictor
from infra.gpu_worker.worker import GpuWorker, WorkerConfig
from infra.local_lambda import exit_with_parent
from lambdas.inference.cameras import RegisteredCameras
from lambdas.inference.dead_letters import SqsDeadLetters
from lambdas.inference.frames import FacePredictor, FrameDependencies
from lambdas.inference.settings import InferenceSettings
from lambdas.observations import ObservationStore

log = logging.getLogger("infra.gpu_worker")
REPORT_EVERY_S = 10.0


def frame_dependencies(
    settings: InferenceSettings, predictor: FacePredictor
) -> Callable[[], FrameDependencies]:
    """A factory of the Lambda's FrameDependencies, called once per worker thread: each gets
    its own boto3 session, since sessions and resources are not thread-safe."""

    def build() -> FrameDependencies:
        session = boto3.session.Session()
        dynamodb = session.resource("dynamodb")
        cameras = None
        if settings.registry_table is not None:
            cameras = RegisteredCameras(
                dynamodb.Table(settings.registry_table), ttl_s=settings.registry_cache_s
            )
        return FrameDependencies(
            s3=session.client("s3"),
            observations=ObservationStore(
                dynamodb.Table(settings.observations_table),
                retention_days=settings.observation_retention_days,
            ),
            predictor=predictor,
            settings=settings,
            cameras=cameras,
        )

    return build


def main(argv: list[str] | None = None) -> int:
    defaults = WorkerConfig(queue_url="")
    parser = argparse.ArgumentParser(
        prog="python -m infra.gpu_worker",
        description=" ".join(__doc__.split("\n\n")[0].split()),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--queue-url", default=os.environ.get("JOBS_QUEUE_URL"))
    parser.add_argument("--receivers", type=int, default=defaults.receivers, help="SQS pollers")
    parser.add_argument(
        "--fetchers", type=int, default=defaults.fetchers, help="download+decode threads"
    )
    parser.add_argument(
        "--recorders", type=int, default=defaults.recorders, help="observation writer threads"
    )
    parser.add_argument(
        "--batch-frames", type=int, default=defaults.batch_frames, help="frames per model call"
    )
    parser.add_argument(
        "--batch-window-ms",
        type=float,
        default=defaults.batch_window_s * 1000,
        help="how long a batch waits to fill",
    )
    parser.add_argument("--max-frames-in-flight", type=int, default=defaults.max_frames_in_flight)
    parser.add_argument(
        "--poll-wait-s", type=int, default=defaults.poll_wait_s, help="SQS long-poll wait, 0-20"
    )
    parser.add_argument(
        "--runtime",
        choices=["litert", "keras"],
        default=os.environ.get("MODEL_RUNTIME", "litert"),
        help="where the face finder and the age/gender network run: litert on the CPU, keras"
        " on KERAS_BACKEND (torch on a GPU machine)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="LiteRT interpreter threads per network"
    )
    parser.add_argument("--ready-file", type=Path, help="written once warm; touched per poll")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s gpu-worker %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)  # a line per client otherwise
    if not args.queue_url:
        print("gpu_worker: no queue: pass --queue-url or set JOBS_QUEUE_URL", file=sys.stderr)
        return 2
    if not 0 <= args.poll_wait_s <= 20:
        print("gpu_worker: --poll-wait-s must be between 0 and 20", file=sys.stderr)
        return 2
    try:
        settings = InferenceSettings.from_environ()
    except ValidationError as exc:
        first = exc.errors()[0]
        print(f"gpu_worker: bad environment: {first['loc'][0]}: {first['msg']}", file=sys.stderr)
        return 2
    config = WorkerConfig(
        queue_url=args.queue_url,
        receivers=max(1, args.receivers),
        fetchers=max(1, args.fetchers),
        recorders=max(1, args.recorders),
        batch_frames=max(1, args.batch_frames),
        batch_window_s=max(0.0, args.batch_window_ms / 1000),
        max_frames_in_flight=max(10, args.max_frames_in_flight),
        poll_wait_s=args.poll_wait_s,
    )
    if args.ready_file is not None:
        exit_with_parent()  # under the local stack: never outlive it (and its moto)

    started = time.monotonic()
    predictor = load_batch_predictor(args.runtime, max(1, args.threads))
    sqs = boto3.client("sqs")
    dead_letters = (
        None
        if settings.dead_letter_queue_url is None
        else SqsDeadLetters(sqs, settings.dead_letter_queue_url)
    )
    worker = GpuWorker(
        sqs, config, predictor, frame_dependencies(settings, predictor), dead_letters
    )
    log.info(
        "warm in %.1f s (both networks on %s); polling %s",
        time.monotonic() - started,
        args.runtime,
        config.queue_url,
    )

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    ready_file = args.ready_file
    if ready_file is not None:
        ready_file.write_text(config.queue_url)
    running = threading.Thread(
        target=worker.run,
        args=(stop, None if ready_file is None else ready_file.touch),
        name="gpu-worker",
    )
    running.start()
    _report_until_stopped(worker, stop)
    running.join()
    log.info("stopped: %s", worker.snapshot())
    return 0


def _report_until_stopped(worker: GpuWorker, stop: threading.Event) -> None:
    """One line of throughput every REPORT_EVERY_S while frames flow."""
    before, since = worker.snapshot(), time.monotonic()
    while not stop.wait(REPORT_EVERY_S):
        now, counts = time.monotonic(), worker.snapshot()
        frames = counts.get("frames_predicted", 0) - before.get("frames_predicted", 0)
        if frames or counts != before:
            batches = counts.get("batches", 0) - before.get("batches", 0)
            log.info(
                "%.1f frames/s through the model (%d batches); totals %s",
                frames / (now - since),
                batches,
                counts,
            )
        before, since = counts, now


if __name__ == "__main__":
    sys.exit(main())
