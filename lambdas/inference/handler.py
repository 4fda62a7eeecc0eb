"""Lambda entry point: an SQS batch of frame jobs in, partial batch failures out.

Parse (Powertools batch processor + ``parse_frame_job``) -> ``process_frames`` -> report. The
model, the settings and the AWS clients are created once per container, on first use.

Time is budgeted per frame, not per message: a frame is started only with a frame budget of
the invocation left, a job that runs short is failed alone (its done frames are skipped on the
retry), and the batch runs its shortest jobs first, so one long job cannot make the others of
its batch retry. A job may name at most ``MAX_FRAMES_PER_JOB`` frames (S3 sends one).

Failures are sorted by whether a retry can help. A transient one (an AWS error, no time left
in the invocation) fails the record, so SQS delivers it again. A permanent one (a message
that is not a frame job, a frame that can have no observation) is sent to the dead-letter
queue at once with its reason, and the record reported done so the queue drops it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.inference.cameras import RegisteredCameras
from lambdas.inference.dead_letters import DeadLetters, SqsDeadLetters
from lambdas.inference.events import (
    NotAFrameJob,
    fewest_frames_first,
    frame_refs,
    is_test_event,
    parse_frame_job,
)
from lambdas.inference.frames import (
    FacePredictor,
    FrameDependencies,
    FrameOutcome,
    process_frames,
)
from lambdas.inference.settings import InferenceSettings
from lambdas.observations import ObservationStore

logger = Logger(service="inference")
metrics = Metrics(namespace="SmartDisplays", service="inference")
# No parser model here: a record that fails to parse is dead-lettered, not retried.
processor = BatchProcessor(event_type=EventType.SQS)


class PermanentFailure(Exception):
    """A job that cannot succeed, with no dead-letter queue configured to park it in: failing
    it leaves it to the jobs queue's redrive policy."""


class OutOfTime(Exception):
    """Too little of the invocation is left to start a frame; SQS delivers the job again."""


@cache
def get_settings() -> InferenceSettings:
    return InferenceSettings.from_environ()


@cache
def get_predictor() -> FacePredictor:
    from model.predictor import load_predictor  # imported late: loading it is the cold start

    return load_predictor()


@cache
def get_frame_dependencies() -> FrameDependencies:
    """The clients, the observation store and the model, built once per container."""
    settings = get_settings()
    dynamodb = boto3.resource("dynamodb")
    table = dynamodb.Table(settings.observations_table)
    cameras = None
    if settings.registry_table is not None:
        cameras = RegisteredCameras(
            dynamodb.Table(settings.registry_table), ttl_s=settings.registry_cache_s
        )
    return FrameDependencies(
        s3=boto3.client("s3"),
        observations=ObservationStore(table, retention_days=settings.observation_retention_days),
        predictor=get_predictor(),
        settings=settings,
        cameras=cameras,
    )


@cache
def get_dead_letters() -> DeadLetters | None:
    url = get_settings().dead_letter_queue_url
    return None if url is None else SqsDeadLetters(boto3.client("sqs"), url)


def record_handler(
    record: SQSRecord, lambda_context: LambdaContext | None = None
) -> list[FrameOutcome]:
    """Process every frame a job announces; an exception fails (and so retries) the job."""
    try:
        job = parse_frame_job(record.raw_event)
    except NotAFrameJob as exc:
        _dead_letter(record, exc.reason)
        return []
    if is_test_event(job):
        logger.info("ignoring S3 notification test event", extra={"message_id": job.messageId})
        return []
    refs = frame_refs(job)
    done = process_frames(refs, get_frame_dependencies(), _seconds_left(lambda_context))
    for outcome in done.frames:
        _report(outcome)
    if done.not_started:
        budget_s = get_settings().frame_budget_s
        raise OutOfTime(
            f"{done.not_started} of {len(refs)} frames not started: under the {budget_s:g} s"
            " frame budget left in the invocation"
        )
    unrecordable = [f"{o.key}: {o.reason}" for o in done.frames if o.result == "unrecordable"]
    if unrecordable:
        _dead_letter(record, "; ".join(unrecordable))
    return done.frames


def _seconds_left(context: LambdaContext | None) -> Callable[[], float]:
    if context is None:
        return lambda: math.inf
    return lambda: context.get_remaining_time_in_millis() / 1000


def _dead_letter(record: SQSRecord, reason: str) -> None:
    dead_letters = get_dead_letters()
    message_id = str(record.raw_event.get("messageId", ""))
    logger.warning("job can never succeed", extra={"message_id": message_id, "reason": reason})
    if dead_letters is None:
        raise PermanentFailure(reason)
    # If the send fails, the exception fails the record and the job is tried again.
    dead_letters.send(str(record.raw_event.get("body", "")), reason, message_id=message_id)
    metrics.add_metric(name="JobsDeadLettered", unit=MetricUnit.Count, value=1)


def _report(outcome: FrameOutcome) -> None:
    # Keys, counts and reasons only: never pixels, crops or predicted attributes per face.
    logger.info(
        "frame processed",
        extra={
            "frame_key": outcome.key,
            "result": outcome.result,
            "faces": outcome.faces,
            "reason": outcome.reason,
        },
    )
    metrics.add_metric(name=f"Frames_{outcome.result}", unit=MetricUnit.Count, value=1)
    if outcome.result == "ok":
        metrics.add_metric(name="FacesObserved", unit=MetricUnit.Count, value=outcome.faces)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_frame_dependencies()  # pay the model load before the batch, once per container
    if not event.get("Records"):  # a warm-up call (infra/worker.py); Lambda never sends one
        return {"batchItemFailures": []}
    ordered = {**event, "Records": fewest_frames_first(list(event["Records"]))}
    return dict(
        process_partial_response(
            event=ordered, record_handler=record_handler, processor=processor, context=context
        )
    )
