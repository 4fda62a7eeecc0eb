"""The tracks table: one item per person a camera saw, and each camera's open tracks.

Partition key ``camera_key`` ("{store}/{camera}"), sort key ``sort_key``: a track's is
``{started_at_ms:013d}#{first_face}`` (``Track.sort_key``), so a camera's tracks come back
in start order; the camera's open tracks (and the frames held back to be linked in order,
``lambdas.tracker.timeline``) are one item with the sort key ``~open``, which sorts after every
track. TTL attribute ``expires_at``.

The open-tracks item carries a ``version``: the stream and the scheduled sweep may settle one
camera at once, and each saves only over the version it read (optimistic locking), so one of
them starts again from the other's state instead of overwriting it. While someone is in view
or frames are held, the item also carries ``sweep`` (``SWEEP_INDEX``, a sparse index), so the
sweep finds the cameras it has to settle without scanning the table.

With a rollups table, each new person is written in one transaction with their increment of
the hourly rollup (``adserver.rollups``): the track's put is conditional on its absence, so
a retried batch that closes the same track again neither rewrites it nor counts it twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from adserver.rollups import DynamoRollups, InMemoryRollups, track_increment
from adserver.tracks import Track
from lambdas.dynamodb_pages import all_items

OPEN_TRACKS_KEY = "~open"
# A camera that sends nothing for this long has its open tracks forgotten, not counted.
OPEN_TRACKS_TTL_S = 3600
# The sparse index of the cameras a sweep has to settle (template.yaml, TracksTable).
SWEEP_INDEX = "Sweep"
SWEEP_VALUE = "due"


class StateChanged(RuntimeError):
    """A camera's open tracks were saved by someone else since they were read."""


class TrackStore(Protocol):
    """What the tracker function needs: write people, and keep each camera's open tracks."""

    def put_tracks(self, camera_key: str, tracks: Iterable[Track]) -> None: ...

    def open_tracks(self, camera_key: str) -> dict[str, Any]: ...

    def open_state(self, camera_key: str) -> tuple[dict[str, Any], int]:
        """The camera's saved state and its version (0: none saved yet)."""
        ...

    def save_open_tracks(
        self, camera_key: str, state: dict[str, Any], now_s: int, version: int, *, due: bool
    ) -> None:
        """Save over ``version``, or raise :class:`StateChanged`; ``due``: a sweep has work."""
        ...

    def cameras_to_sweep(self) -> list[str]:
        """The cameras saved with someone in view or frames held."""
        ...


class DynamoTrackStore:
    """The tracks table in DynamoDB."""

    def __init__(
        self,
        table: Any,
        *,
        retention_days: int = 400,
        rollups: DynamoRollups | None = None,
        watcher_looking_s: float = 1.0,
    ) -> None:
        """``table`` is a boto3 ``dynamodb.Table`` resource; ``rollups`` the hourly rollups
        each new person is added to (none: tracks only)."""
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        self._table = table
        self._retention_s = retention_days * 86_400
        self._rollups = rollups
        self._watcher_looking_s = watcher_looking_s

    def put_tracks(self, camera_key: str, tracks: Iterable[Track]) -> None:
        """Write each track; writing one again (a retried batch) leaves it as it is and, with
        rollups, does not count it again."""
        if self._rollups is not None:
            for track in tracks:
                increment = track_increment(track, self._watcher_looking_s)
                self._rollups.put_counted(self._table, self._item(camera_key, track), increment)
            return
        with self._table.batch_writer(overwrite_by_pkeys=["camera_key", "sort_key"]) as batch:
            for track in tracks:
                batch.put_item(Item=self._item(camera_key, track))

    def _item(self, camera_key: str, track: Track) -> dict[str, Any]:
        item = _to_dynamodb(track.to_dict())
        item.update(
            camera_key=camera_key,
            sort_key=track.sort_key,
            expires_at=track.ended_at_ms // 1000 + self._retention_s,
        )
        return item

    def open_tracks(self, camera_key: str) -> dict[str, Any]:
        """The camera's saved tracker state, or {} when it has none (strongly consistent)."""
        return self.open_state(camera_key)[0]

    def open_state(self, camera_key: str) -> tuple[dict[str, Any], int]:
        response = self._table.get_item(
            Key={"camera_key": camera_key, "sort_key": OPEN_TRACKS_KEY}, ConsistentRead=True
        )
        item = response.get("Item")
        if item is None:
            return {}, 0
        # A state saved before versions were kept reads as version 0 and is replaced as such.
        return dict(json.loads(str(item["state"]))), int(item.get("version", 0))

    def save_open_tracks(
        self, camera_key: str, state: dict[str, Any], now_s: int, version: int, *, due: bool
    ) -> None:
        item: dict[str, Any] = {
            "camera_key": camera_key,
            "sort_key": OPEN_TRACKS_KEY,
            "state": json.dumps(state, separators=(",", ":")),
            "version": version + 1,
            "expires_at": now_s + OPEN_TRACKS_TTL_S,
        }
        if due:
            item["sweep"] = SWEEP_VALUE
        condition = "attribute_not_exists(#version)" if version == 0 else "#version = :version"
        arguments: dict[str, Any] = {
            "Item": item,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#version": "version"},
        }
        if version:
            arguments["ExpressionAttributeValues"] = {":version": version}
        try:
            self._table.put_item(**arguments)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise StateChanged(f"{camera_key}: saved since version {version}") from error
            raise

    def cameras_to_sweep(self) -> list[str]:
        items = all_items(
            self._table.query,
            IndexName=SWEEP_INDEX,
            KeyConditionExpression=Key("sweep").eq(SWEEP_VALUE),
        )
        return sorted({str(item["camera_key"]) for item in items})

    def tracks(self, camera_key: str, since_ms: int, until_ms: int) -> list[Track]:
        """The camera's tracks that started in [since_ms, until_ms), in start order."""
        items = all_items(
            self._table.query,
            KeyConditionExpression=Key("camera_key").eq(camera_key)
            & Key("sort_key").between(f"{since_ms:013d}", f"{until_ms:013d}"),
        )
        return [Track.from_dict(item) for item in items if int(item["started_at_ms"]) < until_ms]


@dataclass
class InMemoryTrackStore:
    """The same behaviour in dicts: for unit tests and the benchmark."""

    records: dict[tuple[str, str], Track] = field(default_factory=dict)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    due: set[str] = field(default_factory=set)
    rollups: InMemoryRollups | None = None
    watcher_looking_s: float = 1.0

    def put_tracks(self, camera_key: str, tracks: Iterable[Track]) -> None:
        for track in tracks:
            if (camera_key, track.sort_key) in self.records:
                continue
            self.records[(camera_key, track.sort_key)] = track
            if self.rollups is not None:
                self.rollups.add(track_increment(track, self.watcher_looking_s))

    def open_tracks(self, camera_key: str) -> dict[str, Any]:
        return self.open_state(camera_key)[0]

    def open_state(self, camera_key: str) -> tuple[dict[str, Any], int]:
        state = json.loads(json.dumps(self.states.get(camera_key, {})))
        return state, self.versions.get(camera_key, 0)

    def save_open_tracks(
        self, camera_key: str, state: dict[str, Any], now_s: int, version: int, *, due: bool
    ) -> None:
        if self.versions.get(camera_key, 0) != version:
            raise StateChanged(f"{camera_key}: open tracks saved since version {version}")
        self.states[camera_key] = json.loads(json.dumps(state))
        self.versions[camera_key] = version + 1
        if due:
            self.due.add(camera_key)
        else:
            self.due.discard(camera_key)

    def cameras_to_sweep(self) -> list[str]:
        return sorted(self.due)

    def tracks(self, camera_key: str, since_ms: int, until_ms: int) -> list[Track]:
        """The camera's tracks that started in [since_ms, until_ms), in start order."""
        return [
            track
            for (camera, _), track in sorted(self.records.items())
            if camera == camera_key and since_ms <= track.started_at_ms < until_ms
        ]


def _to_dynamodb(record: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB takes Decimal, not float; the JSON text keeps the rounded value exact."""
    return dict(json.loads(json.dumps(record), parse_float=Decimal))
