"""The tracks table: one item per person a camera saw, and each camera's open tracks.

Partition key ``camera_key`` ("{store}/{camera}"), sort key ``sort_key``: a track's is
``{started_at_ms:013d}#{first_face}`` (``Track.sort_key``), so a camera's tracks come back
in start order; the camera's open tracks are one item with the sort key ``~open``, which
sorts after every track. TTL attribute ``expires_at``.

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

from adserver.rollups import DynamoRollups, InMemoryRollups, track_increment
from adserver.tracks import Track
from lambdas.dynamodb_pages import all_items

OPEN_TRACKS_KEY = "~open"
# A camera that sends nothing for this long has its open tracks forgotten, not counted.
OPEN_TRACKS_TTL_S = 3600


class TrackStore(Protocol):
    """What the tracker function needs: write people, and keep each camera's open tracks."""

    def put_tracks(self, camera_key: str, tracks: Iterable[Track]) -> None: ...

    def open_tracks(self, camera_key: str) -> dict[str, Any]: ...

    def save_open_tracks(self, camera_key: str, state: dict[str, Any], now_s: int) -> None: ...


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
        response = self._table.get_item(
            Key={"camera_key": camera_key, "sort_key": OPEN_TRACKS_KEY}, ConsistentRead=True
        )
        item = response.get("Item")
        return {} if item is None else dict(json.loads(str(item["state"])))

    def save_open_tracks(self, camera_key: str, state: dict[str, Any], now_s: int) -> None:
        self._table.put_item(
            Item={
                "camera_key": camera_key,
                "sort_key": OPEN_TRACKS_KEY,
                "state": json.dumps(state, separators=(",", ":")),
                "expires_at": now_s + OPEN_TRACKS_TTL_S,
            }
        )

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
        return json.loads(json.dumps(self.states.get(camera_key, {})))

    def save_open_tracks(self, camera_key: str, state: dict[str, Any], now_s: int) -> None:
        self.states[camera_key] = json.loads(json.dumps(state))

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
