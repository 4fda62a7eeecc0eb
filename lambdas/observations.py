"""Observations: one record per frame, the only thing kept once a frame is processed.

Written by the inference function, read by the ad server. A record holds aggregate face
attributes (box, age, gender) and never pixels. Stored in the DynamoDB table declared in
template.yaml: partition key ``camera_key`` ("{store}/{camera}"), sort key
``captured_at_ms``, TTL attribute ``expires_at``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal, Protocol

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from lambdas.frame_keys import FrameKey, camera_key

Status = Literal["ok", "rejected"]
FACE_FIELDS = ("box", "score", "age", "age_band", "gender", "gender_confidence")
DEFAULT_PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 1000


@dataclass(frozen=True)
class Observation:
    """What one frame showed (status "ok") or why it was not looked at (status "rejected")."""

    store: str
    camera: str
    frame_key: str
    captured_at_ms: int
    processed_at_ms: int
    status: Status
    error: str | None
    faces: tuple[dict[str, Any], ...]
    model_version: str

    @property
    def camera_key(self) -> str:
        return camera_key(self.store, self.camera)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record, keys as in the project contract."""
        return {
            "store": self.store,
            "camera": self.camera,
            "frame_key": self.frame_key,
            "captured_at_ms": self.captured_at_ms,
            "processed_at_ms": self.processed_at_ms,
            "status": self.status,
            "error": self.error,
            "faces": [dict(face) for face in self.faces],
            "model_version": self.model_version,
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Observation:
        """Rebuild from ``to_dict`` output or a DynamoDB item (numbers may be Decimals)."""
        status = str(record["status"])
        if status not in ("ok", "rejected"):
            raise ValueError(f"unknown observation status {status!r}")
        error = record.get("error")
        return cls(
            store=str(record["store"]),
            camera=str(record["camera"]),
            frame_key=str(record["frame_key"]),
            captured_at_ms=int(record["captured_at_ms"]),
            processed_at_ms=int(record["processed_at_ms"]),
            status="ok" if status == "ok" else "rejected",
            error=None if error is None else str(error),
            faces=tuple(face_record(face) for face in record.get("faces", [])),
            model_version=str(record["model_version"]),
        )


def face_record(face: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise one face to the contract's fields and plain JSON types, rounded for storage."""
    missing = [name for name in FACE_FIELDS if name not in face]
    if missing:
        raise ValueError(f"face record lacks {', '.join(missing)}")
    box = [int(value) for value in face["box"]]
    if len(box) != 4:
        raise ValueError(f"face box must be x, y, w, h; got {len(box)} numbers")
    record: dict[str, Any] = {
        "box": box,
        "score": round(float(face["score"]), 4),
        "age": round(float(face["age"]), 1),
        "age_band": str(face["age_band"]),
        "gender": str(face["gender"]),
        "gender_confidence": round(float(face["gender_confidence"]), 4),
    }
    # Attention (model.attention), on faces from predictors that read it; older records lack it.
    if face.get("yaw") is not None:
        record["yaw"] = round(float(face["yaw"]), 1)
    if face.get("looking") is not None:
        record["looking"] = bool(face["looking"])
    return record


def ok_observation(
    frame: FrameKey,
    faces: Iterable[Mapping[str, Any]],
    *,
    processed_at_ms: int,
    model_version: str,
) -> Observation:
    """The observation of a frame the model looked at."""
    return Observation(
        store=frame.store,
        camera=frame.camera,
        frame_key=frame.key,
        captured_at_ms=frame.captured_at_ms,
        processed_at_ms=processed_at_ms,
        status="ok",
        error=None,
        faces=tuple(face_record(face) for face in faces),
        model_version=model_version,
    )


def rejected_observation(
    frame: FrameKey, reason: str, *, processed_at_ms: int, model_version: str
) -> Observation:
    """The observation of a frame that could not be looked at, and why."""
    looked_at = ok_observation(
        frame, (), processed_at_ms=processed_at_ms, model_version=model_version
    )
    return replace(looked_at, status="rejected", error=reason)


class ObservationWriter(Protocol):
    """What the inference function needs: write once per frame, and ask whether it did."""

    def put(self, observation: Observation) -> bool: ...

    def exists(self, frame: FrameKey) -> bool: ...

    def observed_frame_key(self, frame: FrameKey) -> str | None:
        """The object key of the observation held for the frame's camera and time, if any."""
        ...


class ObservationReader(Protocol):
    """What the ad server needs: a camera's observations since a time, newest last."""

    def query(
        self, store: str, camera: str, since_ms: int, limit: int = DEFAULT_PAGE_LIMIT
    ) -> list[Observation]: ...


class ObservationStore:
    """Observations in the DynamoDB table; both the writer and the reader side."""

    def __init__(self, table: Any, *, retention_days: int = 30) -> None:
        """``table`` is a boto3 ``dynamodb.Table`` resource."""
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        self._table = table
        self._retention_s = retention_days * 86_400

    def put(self, observation: Observation) -> bool:
        """Write the observation unless one exists for its frame; False means a duplicate."""
        item = _to_dynamodb(observation.to_dict())
        item["camera_key"] = observation.camera_key
        item["expires_at"] = observation.processed_at_ms // 1000 + self._retention_s
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(camera_key)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def exists(self, frame: FrameKey) -> bool:
        """Whether the frame already has an observation (strongly consistent read)."""
        return self.observed_frame_key(frame) is not None

    def observed_frame_key(self, frame: FrameKey) -> str | None:
        """The ``frame_key`` recorded for the frame's camera and time (strongly consistent):
        the frame's own key for a repeat delivery, another object's for a second upload."""
        response = self._table.get_item(
            Key={"camera_key": frame.camera_key, "captured_at_ms": frame.captured_at_ms},
            ProjectionExpression="frame_key",
            ConsistentRead=True,
        )
        item = response.get("Item")
        return None if item is None else str(item.get("frame_key", ""))

    def query(
        self, store: str, camera: str, since_ms: int, limit: int = DEFAULT_PAGE_LIMIT
    ) -> list[Observation]:
        """Observations captured after ``since_ms``, oldest first (newest last), at most ``limit``.

        To page on, ask again with the last record's ``captured_at_ms`` as ``since_ms``.
        """
        response = self._table.query(
            KeyConditionExpression=Key("camera_key").eq(camera_key(store, camera))
            & Key("captured_at_ms").gt(since_ms),
            ScanIndexForward=True,
            Limit=_bounded(limit),
        )
        return [Observation.from_dict(item) for item in response.get("Items", [])]


@dataclass
class InMemoryObservationStore:
    """The same behaviour in a dict: for unit tests and tools that run without AWS."""

    records: dict[tuple[str, int], Observation] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def put(self, observation: Observation) -> bool:
        key = (observation.camera_key, observation.captured_at_ms)
        with self._lock:
            if key in self.records:
                return False
            self.records[key] = observation
        return True

    def exists(self, frame: FrameKey) -> bool:
        return (frame.camera_key, frame.captured_at_ms) in self.records

    def observed_frame_key(self, frame: FrameKey) -> str | None:
        observation = self.records.get((frame.camera_key, frame.captured_at_ms))
        return None if observation is None else observation.frame_key

    def query(
        self, store: str, camera: str, since_ms: int, limit: int = DEFAULT_PAGE_LIMIT
    ) -> list[Observation]:
        wanted = camera_key(store, camera)
        matching = sorted(
            (obs for (key, at), obs in self.records.items() if key == wanted and at > since_ms),
            key=lambda obs: obs.captured_at_ms,
        )
        return matching[: _bounded(limit)]


def _bounded(limit: int) -> int:
    return max(1, min(int(limit), MAX_PAGE_LIMIT))


def _to_dynamodb(value: Any) -> Any:
    """DynamoDB takes Decimal, not float; str() keeps the rounded value exact."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _to_dynamodb(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamodb(item) for item in value]
    return value
