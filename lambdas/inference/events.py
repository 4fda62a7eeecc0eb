"""The shape of a frame job: an S3 notification, inside an SNS notification, inside an SQS record.

``parse_frame_job`` validates one SQS record against ``FrameJobRecord``; pydantic unwraps
the JSON layers on the way, so the record handler gets typed frame references, or a reason
why the message can never be a frame job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.parser.models import SnsNotificationModel, SqsRecordModel
from pydantic import BaseModel, Json, ValidationError


# Only the fields the function reads are declared. Powertools' own S3RecordModel also insists
# on identity and request fields that S3 sends but moto's notifications leave out.
class S3ObjectRef(BaseModel):
    key: str  # URL-encoded, as S3 sends it
    size: int | None = None


class S3BucketRef(BaseModel):
    name: str


class S3Entity(BaseModel):
    bucket: S3BucketRef
    object: S3ObjectRef


class S3EventRecord(BaseModel):
    eventSource: Literal["aws:s3"] = "aws:s3"
    eventName: str
    s3: S3Entity


class S3EventNotification(BaseModel):
    Records: list[S3EventRecord]


class S3TestEvent(BaseModel):
    """What S3 sends once when a notification configuration is saved; carries no object."""

    Service: Literal["Amazon S3"]
    Event: Literal["s3:TestEvent"]
    Bucket: str


class FrameJobNotification(SnsNotificationModel):
    Message: Json[S3TestEvent | S3EventNotification]  # type: ignore[assignment]


class FrameJobRecord(SqsRecordModel):
    """One SQS record as Lambda delivers it, with the SNS envelope kept (RawMessageDelivery off)."""

    body: Json[FrameJobNotification]


# S3 sends one object per notification; a job naming more is not S3's, and each frame it names
# costs up to the frame budget. Beyond this many the job is refused whole, with the reason.
MAX_FRAMES_PER_JOB = 10


class NotAFrameJob(ValueError):
    """A message that no retry can turn into a frame job; ``reason`` says what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_frame_job(record: Mapping[str, Any]) -> FrameJobRecord:
    """Validate one SQS record (as Lambda delivers it); raises NotAFrameJob with the reason."""
    try:
        job = FrameJobRecord.model_validate(record)
    except ValidationError as exc:
        raise NotAFrameJob(f"not a frame job: {_first_error(exc)}") from None
    except (ValueError, TypeError, RecursionError) as exc:
        # pydantic's JSON parsing of pathological bodies (very deep nesting and the like)
        raise NotAFrameJob(f"not a frame job: unreadable body ({type(exc).__name__})") from None
    message = job.body.Message
    if isinstance(message, S3EventNotification) and len(message.Records) > MAX_FRAMES_PER_JOB:
        raise NotAFrameJob(
            f"not a frame job: it names {len(message.Records)} objects, over the"
            f" {MAX_FRAMES_PER_JOB} a job may name (S3 sends one per message)"
        )
    return job


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    if not errors:
        return "invalid message"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "message"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg', 'invalid')}{more}"[:300]


@dataclass(frozen=True)
class FrameRef:
    """An object that S3 says was created: where to fetch it and how big it claims to be."""

    bucket: str
    key: str  # URL-decoded
    size: int | None


def frame_refs(record: FrameJobRecord) -> list[FrameRef]:
    """The created objects a job announces; an S3 test event announces none."""
    message = record.body.Message
    if isinstance(message, S3TestEvent):
        return []
    return [
        FrameRef(
            bucket=entry.s3.bucket.name,
            key=unquote_plus(entry.s3.object.key),
            size=entry.s3.object.size,
        )
        for entry in message.Records
        if entry.eventName.startswith("ObjectCreated:")
    ]


def fewest_frames_first(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The batch's records, those with the shortest bodies first (stable).

    A body grows with the objects it names (about 1 KB each), so jobs of one frame, which S3
    sends, run before any longer job: a job that runs out the invocation's time then fails
    alone, instead of leaving the jobs after it without time to start.
    """
    return sorted(records, key=lambda record: len(str(record.get("body", ""))))


def is_test_event(record: FrameJobRecord) -> bool:
    """Whether the job is S3's notification self-test rather than a frame."""
    return isinstance(record.body.Message, S3TestEvent)
