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
from lambdas.inference.cameras import CameraRegistry
from lambdas.inference.events import FrameRef
from lambdas.inference.settings import InferenceSettings
from lambdas.observations import (
    ObservationWriter,
    ok_observation,
    rejected_observation,
)
from model.images import ImageRejected, decode_image

# "unrecordable": the frame can have no observation (its key names no camera and time, or
# another object already holds them); it is deleted, and the handler dead-letters its job.
Result = Literal["ok", "rejected", "duplicate", "unrecordable"]


class DetectedFace(Protocol):
    def to_dict(self) -> Mapping[str, Any]: ...


class FacePredictor(Protocol):
    """The part of ``model.predictor.Predictor`` this function relies on."""

    model_version: str

    def predict(self, rgb: Any, min_face_px: float | None = None) -> Sequence[DetectedFace]: ...


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
    # None accepts every camera (no registry configured).
    cameras: CameraRegistry | None = None
    # Seconds, for the frame's time budget; monotonic so a wall-clock step cannot trip it.
    timer: Callable[[], float] = time.monotonic


class _FrameGone(Exception):
    """The object is no longer in the bucket (already processed and deleted, or expired)."""


@dataclass(frozen=True)
class FetchedFrame:
    """A frame past its checks, waiting for the model: ``rgb`` to look at, or ``rejection``,
    the reason it will be recorded without being looked at."""

    ref: FrameRef
    frame: FrameKey
    rgb: Any = None
    min_face_px: float | None = None
    rejection: str | None = None


@dataclass(frozen=True)
class JobOutcome:
    """The frames of one job that were processed, and how many were not started for want of
    time (the job is then failed, so SQS delivers it again; the done ones are skipped)."""

    frames: list[FrameOutcome]
    not_started: int = 0


def process_frames(
    refs: Sequence[FrameRef], deps: FrameDependencies, seconds_left: Callable[[], float]
) -> JobOutcome:
    """``process_frame`` for each frame of a job, starting one only while ``seconds_left()``
    (of the invocation) is at least the frame budget: a frame is bounded, a job is not."""
    outcomes: list[FrameOutcome] = []
    for index, ref in enumerate(refs):
        if seconds_left() < deps.settings.frame_budget_s:
            return JobOutcome(outcomes, not_started=len(refs) - index)
        outcomes.append(process_frame(ref, deps))
    return JobOutcome(outcomes)


def process_frame(ref: FrameRef, deps: FrameDependencies) -> FrameOutcome:
    """Turn one uploaded frame into exactly one observation, then delete the frame.

    Every frame ends as an observation ("ok" or "rejected" with the reason) or, when it can
    have none, as "unrecordable" with the reason, and is deleted from the bucket either way.
    Safe to repeat: S3, SNS and SQS all deliver at least once, so a frame that already has an
    observation is not looked at again (it is only deleted, in case an earlier attempt stopped
    between writing and deleting). Transient AWS errors propagate so the job is retried.

    The steps are ``fetch_frame`` -> predict -> ``record_frame``; the GPU worker runs the same
    two ends around one prediction for many frames.
    """
    fetched = fetch_frame(ref, deps)
    if isinstance(fetched, FrameOutcome):
        return fetched
    faces: Sequence[DetectedFace] = ()
    if fetched.rgb is not None:
        faces = deps.predictor.predict(fetched.rgb, min_face_px=fetched.min_face_px)
    return record_frame(fetched, faces, deps)


def fetch_frame(ref: FrameRef, deps: FrameDependencies) -> FrameOutcome | FetchedFrame:
    """Everything before the model: the key, the idempotency check, the camera, the download
    and the bounded decode. A FrameOutcome when the frame is done with (it can have no
    observation, or already has one; deleted either way), else the frame to predict on."""
    try:
        frame = FrameKey.parse(ref.key)
    except InvalidFrameKey as exc:
        # Cameras upload only to keys the ad server signs; anything else under frames/ can
        # never be observed, so it is removed and its job dead-lettered with the reason.
        _delete_frame(ref, deps)
        return FrameOutcome(key=ref.key, result="unrecordable", reason=str(exc))

    observed_key = deps.observations.observed_frame_key(frame)
    if observed_key is not None:
        return _already_observed(ref, observed_key, deps, "already observed")

    try:
        return _fetch(ref, frame, deps)
    except _FrameGone:
        observed_key = deps.observations.observed_frame_key(frame)
        if observed_key is not None:
            return _already_observed(ref, observed_key, deps, "observed concurrently")
        return FetchedFrame(ref, frame, rejection="frame no longer in the bucket")


def record_frame(
    fetched: FetchedFrame, faces: Sequence[DetectedFace], deps: FrameDependencies
) -> FrameOutcome:
    """Write the frame's one observation (its faces, or its rejection), then delete it."""
    ref, frame = fetched.ref, fetched.frame
    model_version = deps.predictor.model_version
    if fetched.rejection is not None:
        observation = rejected_observation(
            frame, fetched.rejection, processed_at_ms=deps.clock_ms(), model_version=model_version
        )
    else:
        observation = ok_observation(
            frame,
            (face.to_dict() for face in faces),
            processed_at_ms=deps.clock_ms(),
            model_version=model_version,
        )
    if not deps.observations.put(observation):
        # Another delivery (or another object with the same camera and time) won the race.
        observed_key = deps.observations.observed_frame_key(frame) or ""
        return _already_observed(ref, observed_key, deps, "observed concurrently")
    _delete_frame(ref, deps)
    return FrameOutcome(
        key=ref.key,
        result=observation.status,
        faces=len(observation.faces),
        reason=observation.error,
    )


def _already_observed(
    ref: FrameRef, observed_key: str, deps: FrameDependencies, how: str
) -> FrameOutcome:
    """A frame whose camera and time already have an observation: this object's own (a
    repeat delivery), or another object's (a .jpg and a .png of the same moment)."""
    _delete_frame(ref, deps)
    if observed_key == ref.key:
        return FrameOutcome(key=ref.key, result="duplicate", reason=how)
    return FrameOutcome(
        key=ref.key,
        result="unrecordable",
        reason=f"duplicate frame id: {observed_key} holds this camera and capture time",
    )


def _fetch(ref: FrameRef, frame: FrameKey, deps: FrameDependencies) -> FetchedFrame:
    started_s = deps.timer()
    unregistered = None if deps.cameras is None else deps.cameras.unregistered_reason(frame)
    if unregistered is not None:
        return FetchedFrame(ref, frame, rejection=unregistered)
    try:
        data = _download(ref, deps)
        rgb = decode_image(data, max_pixels=deps.settings.max_pixels)
        _check_budget(deps.timer() - started_s, deps.settings.frame_budget_s)
    except ImageRejected as exc:
        return FetchedFrame(ref, frame, rejection=exc.reason)
    min_face_px = None if deps.cameras is None else deps.cameras.min_face_px(frame)
    return FetchedFrame(ref, frame, rgb=rgb, min_face_px=min_face_px)


def _check_budget(elapsed_s: float, budget_s: float) -> None:
    # The model's cost is bounded by the frame's shape (checked in decode_image) and the
    # detector's input cap; what is left to bound is fetching and decoding.
    if elapsed_s > budget_s:
        raise ImageRejected(
            f"frame took {elapsed_s:.1f} s to fetch and decode, over its {budget_s:g} s budget"
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
