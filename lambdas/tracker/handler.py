"""Lambda entry point: a batch of the observations table's stream records in, tracks out;
or the scheduled sweep that ends, by the clock, the tracks of cameras that went quiet.

Parse (Powertools' DynamoDB stream event, or EventBridge's scheduled event) ->
``track_observations`` or ``sweep`` -> report. Only new observations (INSERT) matter: an
observation is written once and expires by TTL. A failure raises, so Lambda retries the
batch (the event source mapping bisects and then gives up on a batch that keeps failing); a
retried batch skips what it already linked, and a failed sweep is simply the next minute's.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, EventBridgeEvent
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from adserver.rollups import DynamoRollups
from lambdas.observations import Observation
from lambdas.tracker.settings import TrackerSettings
from lambdas.tracker.store import DynamoTrackStore
from lambdas.tracker.tracking import BatchOutcome, TrackerDependencies, sweep, track_observations

logger = Logger(service="tracker")
metrics = Metrics(namespace="SmartDisplays", service="tracker")


@cache
def get_settings() -> TrackerSettings:
    return TrackerSettings.from_environ()


@cache
def get_dependencies() -> TrackerDependencies:
    settings = get_settings()
    dynamodb = boto3.resource("dynamodb")
    rollups = None
    if settings.rollups_table is not None:
        rollups = DynamoRollups(
            dynamodb.Table(settings.rollups_table), retention_days=settings.track_retention_days
        )
    store = DynamoTrackStore(
        dynamodb.Table(settings.tracks_table),
        retention_days=settings.track_retention_days,
        rollups=rollups,
        watcher_looking_s=settings.watcher_looking_s,
    )
    return TrackerDependencies(
        store=store, settings=settings.track_settings(), timing=settings.timing()
    )


def is_sweep(event: dict[str, Any]) -> bool:
    """EventBridge's scheduled event (template.yaml: TrackerFunction's Sweep schedule)."""
    return "detail-type" in event and EventBridgeEvent(event).detail_type == "Scheduled Event"


def new_observations(event: dict[str, Any]) -> list[Observation]:
    """The observations a stream batch inserted; updates and TTL deletions are ignored."""
    observations = []
    for record in DynamoDBStreamEvent(event).records:
        if record.event_name != DynamoDBRecordEventName.INSERT or record.dynamodb is None:
            continue
        image = record.dynamodb.new_image
        if image:
            observations.append(Observation.from_dict(image))
    return observations


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    swept = is_sweep(event)
    if swept:
        outcome = sweep(get_dependencies())
    else:
        outcome = track_observations(new_observations(event), get_dependencies())
    _report(outcome, "swept" if swept else "observations tracked")
    return {
        "cameras": outcome.cameras,
        "frames": outcome.frames,
        "people": len(outcome.people),
        "late": outcome.late,
    }


def _report(outcome: BatchOutcome, message: str) -> None:
    # Counts only: never a box, and no track's band or gender in the logs.
    logger.info(
        message,
        extra={
            "cameras": outcome.cameras,
            "frames": outcome.frames,
            "skipped": outcome.skipped,
            "late": outcome.late,
            "held": outcome.held,
        },
    )
    metrics.add_metric(name="FramesTracked", unit=MetricUnit.Count, value=outcome.frames)
    # Frames that came after their camera had settled past them: linked nowhere.
    metrics.add_metric(name="LateFrames", unit=MetricUnit.Count, value=outcome.late)
    metrics.add_metric(name="People", unit=MetricUnit.Count, value=len(outcome.people))
    watchers = sum(t.is_watcher(get_dependencies().settings) for t in outcome.people)
    metrics.add_metric(name="Watchers", unit=MetricUnit.Count, value=watchers)
