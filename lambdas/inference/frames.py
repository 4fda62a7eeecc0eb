"""One frame in, one observation out: fetch, decode with bounds, predict, record, delete.

Everything that talks to the outside (S3, the observation store, the predictor, the clock)
is passed in, so this runs the same under Lambda, the local worker and unit tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from botocore.exceptions import ClientError

from lambdas.frame_keys import FrameKey, InvalidFrameKey
from lambdas.inference.events import FrameRef
from lambdas.inference.settings import InferenceSettings
from lambdas.observations import (
    Observation,
    ObservationWriter,
    ok_observation,
    rejected_observation,
)
from model.images import ImageRejected, decode_image

Result = Literal["ok", "rejected", "duplicate", "ignored"]


class DetectedFace(Protocol):
    def to_dict(self) -> Mapping[str, Any]: ...


class FacePredictor(Protocol):
    """The part of ``model.predictor.Predictor`` this function relies on."""

    model_version: str

    def predict(self, rgb: Any) -> Sequence[DetectedFace]: ...


@dataclass(frozen=True)
class FrameOutcome:
    """What happened to one frame; ``reason`` explains anything but "ok"."""

    key: str
    result: Result
    faces: int = 0
    reason: str | None = None


@dataclass(frozen=True)
class FrameDependencies:
    """The outside world of ``process_frame``; the handler builds it once per container."""

    s3: Any  # boto3 S3 client
    observations: ObservationWriter
    predictor: FacePredictor
    settings: InferenceSettings
    clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000


class _FrameGone(Exception):
    """The object is no longer in the bucket (already processed and deleted, or expired)."""


def process_frame(ref: FrameRef, deps: FrameDependencies) -> FrameOutcome:
    """Turn one uploaded frame into exactly one observation, then delete the frame.

    Safe to repeat: S3, SNS and SQS all deliver at least once, so a frame that already has an
    observation is not looked at again (it is only deleted, in case an earlier attempt stopped
    between writing and deleting). Transient AWS errors propagate so the job is retried.
    """
    try:
        frame = FrameKey.parse(ref.key)
    except InvalidFrameKey as exc:
        # Not ours to judge or delete; the bucket's lifecycle rule expires it within a day.
        return FrameOutcome(key=ref.key, result="ignored", reason=str(exc))

    if deps.observations.exists(frame):
        _delete_frame(ref, deps)
        return FrameOutcome(key=ref.key, result="duplicate", reason="already observed")

    try:
        observation = _observe(ref, frame, deps)
    except _FrameGone:
        if deps.observations.exists(frame):
            return FrameOutcome(key=ref.key, result="duplicate", reason="observed concurrently")
        observation = rejected_observation(
            frame,
            "frame no longer in the bucket",
            processed_at_ms=deps.clock_ms(),
            model_version=deps.predictor.model_version,
        )
    if not deps.observations.put(observation):
        # Another delivery of the same frame won the race; its observation stands.
        _delete_frame(ref, deps)
        return FrameOutcome(key=ref.key, result="duplicate", reason="observed concurrently")
    _delete_frame(ref, deps)
    return FrameOutcome(
        key=ref.key,
        result=observation.status,
        faces=len(observation.faces),
        reason=observation.error,
    )


def _observe(ref: FrameRef, frame: FrameKey, deps: FrameDependencies) -> Observation:
    model_version = deps.predictor.model_version
    try:
        data = _download(ref, deps)
        rgb = decode_image(data, max_pixels=deps.settings.max_pixels)
    except ImageRejected as exc:
        return rejected_observation(
            frame, exc.reason, processed_at_ms=deps.clock_ms(), model_version=model_version
        )
    faces = deps.predictor.predict(rgb)
    return ok_observation(
        frame,
        (face.to_dict() for face in faces),
        processed_at_ms=deps.clock_ms(),
        model_version=model_version,
    )


def _download(ref: FrameRef, deps: FrameDependencies) -> bytes:
    limit = deps.settings.max_frame_bytes
    if ref.size is not None and ref.size > limit:
        raise ImageRejected(_too_large(ref.size, limit))
    try:
        response = deps.s3.get_object(Bucket=ref.bucket, Key=ref.key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
            raise _FrameGone from None
        raise
    body = response["Body"]
    try:
        size = int(response.get("ContentLength", 0))
        if size > limit:
            raise ImageRejected(_too_large(size, limit))
        data = bytes(body.read(limit + 1))
    finally:
        body.close()
    if len(data) > limit:
        raise ImageRejected(_too_large(len(data), limit))
    return data


def _too_large(size: int, limit: int) -> str:
    return f"file over {limit / 2**20:g} MiB ({size} bytes)"


def _delete_frame(ref: FrameRef, deps: FrameDependencies) -> None:
    if deps.settings.delete_frames_after_processing:
        # Deleting a key that is already gone succeeds, so retries are harmless.
        deps.s3.delete_object(Bucket=ref.bucket, Key=ref.key)
