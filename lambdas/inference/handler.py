"""Lambda entry point: an SQS batch of frame jobs in, partial batch failures out.

Parse (Powertools batch processor + parser models) -> ``process_frame`` -> report. The model,
the settings and the AWS clients are created once per container, on first use.
"""

from __future__ import annotations

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
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.inference.events import FrameJobRecord, frame_refs, is_test_event
from lambdas.inference.frames import FacePredictor, FrameDependencies, FrameOutcome, process_frame
from lambdas.inference.settings import InferenceSettings
from lambdas.observations import ObservationStore

logger = Logger(service="inference")
metrics = Metrics(namespace="SmartDisplays", service="inference")
processor = BatchProcessor(event_type=EventType.SQS, model=FrameJobRecord)


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
    table = boto3.resource("dynamodb").Table(settings.observations_table)
    return FrameDependencies(
        s3=boto3.client("s3"),
        observations=ObservationStore(table, retention_days=settings.observation_retention_days),
        predictor=get_predictor(),
        settings=settings,
    )


def record_handler(record: FrameJobRecord) -> list[FrameOutcome]:
    """Process every frame a job announces; an exception fails (and so retries) the job."""
    if is_test_event(record):
        logger.info("ignoring S3 notification test event", extra={"message_id": record.messageId})
        return []
    outcomes = [process_frame(ref, get_frame_dependencies()) for ref in frame_refs(record)]
    for outcome in outcomes:
        _report(outcome)
    return outcomes


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
    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
