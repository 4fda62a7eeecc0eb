"""Hourly rollups: what reports read instead of raw observations.

One record per store and hour holds, for each camera and audience bucket, the people
(tracks, i.e. opportunities to see) who arrived in that hour, the watchers among them and
the histograms of their dwell and looking seconds, and, for each display and bucket, the
impressions played and their seconds. Records are kept up to date as events happen: the
tracker adds a person when their track closes, the ad server adds a play when its
impression arrives (``lambdas.tracker.store``, ``adserver.impressions``), each in one
DynamoDB transaction with the track or impression it counts, so a retried write never
counts twice. A month of a store is 744 records, whatever the traffic.

A record's cells are one JSON attribute, ``{"place|bucket": [counts...]}`` (``CELL_FIELDS``),
updated with optimistic locking (a ``version`` condition) as the play log is: a report
reads a month of a store as 744 small strings. One counter per attribute (DynamoDB's ADD)
needed no read before a write, but a month's report then read some 350,000 attributes,
which took moto 20 s. Nothing per person is kept: a person becomes +1 in counts shared
with everyone of their bucket in that hour.

Median and p90 are read from the histograms (bins up to ``HISTOGRAM_EDGES_S``), linearly
interpolated inside a bin, so they are accurate to within one bin's width.
"""

from __future__ import annotations

import bisect
import json
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from adserver.tracks import Track
from lambdas.dynamodb_pages import all_items

HOUR_MS = 3_600_000
# Upper bounds (inclusive) of the dwell and looking histograms' bins, in seconds. Bin 0
# holds exactly 0 (a person who never looked); values over the last edge share one bin.
HISTOGRAM_EDGES_S: tuple[float, ...] = (
    0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0,
    600.0,
)  # fmt: skip
BINS = len(HISTOGRAM_EDGES_S) + 1
# A cell's counts, in this order; trailing zeros are left out of the stored JSON.
PEOPLE, WATCHERS, IMPRESSIONS, PLAY_S = 0, 1, 2, 3
DWELL_BINS = 4  # BINS counts from here
LOOKING_BINS = DWELL_BINS + BINS
# For plays: the people and watchers present while each played, summed over the plays.
PLAY_PEOPLE = LOOKING_BINS + BINS
PLAY_WATCHERS = PLAY_PEOPLE + 1
CELL_FIELDS = PLAY_WATCHERS + 1
# A play is counted twice: under its display and bucket, and under its ad ("ad:{ad_id}", a
# place no camera or display id can be) for all buckets together (per ad and bucket, a month's
# report read three times as many cells); reports keep these apart from the store's totals.
AD_PLACE_PREFIX = "ad:"
ALL_BUCKETS_KEY = "all"
SEPARATOR = "|"
DEFAULT_RETENTION_DAYS = 400
# Writers of one store-hour that race: each retries its read-modify-write this often.
WRITE_ATTEMPTS = 8

CellKey = tuple[str, str]  # (place, bucket): a camera's people or a display's plays


def hour_of(ms: int) -> int:
    return ms - ms % HOUR_MS


def histogram_bin(seconds: float) -> int:
    """The histogram bin of a duration: 0 for 0 s, then one per edge, then the overflow."""
    return bisect.bisect_left(HISTOGRAM_EDGES_S, max(seconds, 0.0))


@dataclass(frozen=True)
class RollupIncrement:
    """What one event adds to one store-hour record: cell -> {field index: amount}."""

    store: str
    hour_ms: int
    cells: Mapping[CellKey, Mapping[int, float]]


def track_increment(track: Track, watcher_looking_s: float) -> RollupIncrement:
    """A person whose track closed: +1 in their camera's bucket in the hour they arrived."""
    store, _, camera = track.camera.partition("/")
    # adserver.catalog.bucket_name's spelling, without its imports: the tracker ships this.
    bucket = f"{track.age_band}/{track.gender}"
    counts = {
        PEOPLE: 1.0,
        WATCHERS: float(track.looking_s >= watcher_looking_s),
        DWELL_BINS + histogram_bin(track.dwell_s): 1.0,
        LOOKING_BINS + histogram_bin(track.looking_s): 1.0,
    }
    return RollupIncrement(store, hour_of(track.started_at_ms), {(camera, bucket): counts})


def impression_increment(
    store: str,
    display: str,
    ad_id: str,
    bucket: str,
    started_at_ms: int,
    duration_s: float,
    people: int = 0,
    watchers: int = 0,
) -> RollupIncrement:
    """A play: +1 impression (its seconds, the people and watchers present) for its display
    and for its ad, in the bucket it was chosen for."""
    counts = {IMPRESSIONS: 1.0, PLAY_S: duration_s, PLAY_PEOPLE: people, PLAY_WATCHERS: watchers}
    cells = {(display, bucket): counts, (f"{AD_PLACE_PREFIX}{ad_id}", ALL_BUCKETS_KEY): counts}
    return RollupIncrement(store, hour_of(started_at_ms), cells)


def added(cells: Mapping[str, list[float]], increment: RollupIncrement) -> dict[str, list[float]]:
    """A record's cells (as stored) with ``increment`` added."""
    updated = {key: list(counts) for key, counts in cells.items()}
    for (place, bucket), counts in increment.cells.items():
        row = updated.setdefault(f"{place}{SEPARATOR}{bucket}", [])
        for index, amount in counts.items():
            if len(row) <= index:
                row.extend([0] * (index + 1 - len(row)))
            row[index] = _number(row[index] + amount)
    return updated


def merged(increments: Iterable[RollupIncrement]) -> dict[tuple[str, int], dict[str, list[float]]]:
    """Increments summed per (store, hour) into stored cells (for a backlog at once)."""
    records: dict[tuple[str, int], dict[str, list[float]]] = defaultdict(dict)
    for increment in increments:
        key = (increment.store, increment.hour_ms)
        records[key] = added(records[key], increment)
    return records


def _number(value: float) -> float:
    # Counts stay integers in the JSON; seconds keep three decimals.
    return int(value) if float(value).is_integer() else round(value, 3)


def encode_cells(cells: Mapping[str, list[float]]) -> str:
    return json.dumps(cells, separators=(",", ":"), sort_keys=True)


def decode_cells(record: Mapping[str, Any]) -> dict[str, list[float]]:
    return dict(json.loads(str(record.get("cells") or "{}")))


class RollupReader(Protocol):
    def hours(self, store: str, from_ms: int, to_ms: int) -> list[dict[str, Any]]:
        """The store's records of the hours that overlap [from_ms, to_ms), oldest first."""
        ...


class RollupContention(RuntimeError):
    """A store-hour record changed under us on every attempt; the caller may retry."""


class WritesRefused(RuntimeError):
    """A transaction of ``put_counted`` failed a condition of one of its ``also`` writes."""

    def __init__(self, item_exists: bool, also: Sequence[bool]) -> None:
        super().__init__(f"transaction refused: item exists {item_exists}, also {list(also)}")
        self.item_exists = item_exists
        self.also = list(also)


class DynamoRollups:
    """The rollups table: partition key ``store``, sort key ``hour`` (13-digit epoch ms)."""

    def __init__(self, table: Any, *, retention_days: int = DEFAULT_RETENTION_DAYS) -> None:
        """``table`` is a boto3 ``dynamodb.Table`` resource."""
        self._table = table
        self._retention_s = retention_days * 86_400

    @property
    def table(self) -> Any:
        return self._table

    def put_counted(
        self,
        table: Any,
        item: Mapping[str, Any] | None,
        increment: RollupIncrement,
        also: Sequence[Mapping[str, Any]] = (),
    ) -> bool:
        """Write ``item`` (a track, an impression) to ``table`` and add ``increment`` here, both
        or neither, unless an item with its key (a ``sort_key`` range key) is already there:
        then nothing is written and False returned, so a retried write never counts twice.
        With no ``item``, only the increment is added.

        ``also`` are more writes of the same transaction (``TransactItems`` entries, with
        conditions of their own); if one fails its condition nothing is written and
        ``WritesRefused`` says which, for the caller to read again and decide."""
        key = {"store": increment.store, "hour": f"{increment.hour_ms:013d}"}
        for _ in range(WRITE_ATTEMPTS):
            current = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
            version = int(current["version"]) if current else 0
            record = {
                **key,
                "hour_ms": increment.hour_ms,
                "cells": encode_cells(added(decode_cells(current or {}), increment)),
                "version": version + 1,
                "expires_at": increment.hour_ms // 1000 + self._retention_s,
            }
            unchanged = "#version = :version" if current else "attribute_not_exists(#version)"
            rollup: dict[str, Any] = {
                "TableName": self._table.name,
                "Item": record,
                "ConditionExpression": unchanged,
                "ExpressionAttributeNames": {"#version": "version"},
            }
            if current:
                rollup["ExpressionAttributeValues"] = {":version": version}
            writes = [*also, {"Put": rollup}]
            if item is not None:
                writes.insert(0, counted_put(table, item))
            try:
                self._table.meta.client.transact_write_items(TransactItems=writes)
                return True
            except ClientError as error:
                failed = failed_conditions(error, len(writes))
                if failed is None:
                    raise
                counted_failed = item is not None and failed[0]
                others = failed[1 if item is not None else 0 : -1]
                if any(others):
                    raise WritesRefused(counted_failed, others) from None
                if counted_failed:
                    return False  # written before: already counted
        raise RollupContention(f"rollup {increment.store} {key['hour']} kept changing")

    def add(self, increment: RollupIncrement) -> None:
        """Add one increment on its own (not in a transaction with what it counts)."""
        self.put_counted(self._table, None, increment)

    def put_hours(self, increments: Iterable[RollupIncrement]) -> None:
        """Write whole hours at once (a backfill, a benchmark): each replaces its record."""
        with self._table.batch_writer(overwrite_by_pkeys=["store", "hour"]) as batch:
            for (store, hour_ms), cells in merged(increments).items():
                batch.put_item(
                    Item={
                        "store": store,
                        "hour": f"{hour_ms:013d}",
                        "hour_ms": hour_ms,
                        "cells": encode_cells(cells),
                        "version": 1,
                        "expires_at": hour_ms // 1000 + self._retention_s,
                    }
                )

    def hours(self, store: str, from_ms: int, to_ms: int) -> list[dict[str, Any]]:
        condition = Key("store").eq(store) & Key("hour").between(
            f"{hour_of(max(from_ms, 0)):013d}", f"{max(to_ms - 1, 0):013d}"
        )
        return list(all_items(self._table.query, KeyConditionExpression=condition))


def counted_put(table: Any, item: Mapping[str, Any]) -> dict[str, Any]:
    """The transaction entry that writes ``item`` only if no item has its key yet: the write
    that makes a retried track or impression count once."""
    return {
        "Put": {
            "TableName": table.name,
            "Item": dict(item),
            "ConditionExpression": "attribute_not_exists(sort_key)",
        }
    }


def failed_conditions(error: ClientError, writes: int) -> list[bool] | None:
    """Which writes of a cancelled transaction failed their condition; None when it was
    cancelled for another reason (throttling, a conflict), which the caller raises."""
    if error.response["Error"]["Code"] != "TransactionCanceledException":
        return None
    reasons = error.response.get("CancellationReasons")
    if reasons:
        codes = [str(reason.get("Code")) for reason in reasons]
    else:  # moto carries the reasons only in the message: "... reasons [A, B]"
        codes = str(error).rsplit("[", 1)[-1].rstrip("]").replace(" ", "").split(",")
    if len(codes) != writes or any(c not in ("None", "ConditionalCheckFailed") for c in codes):
        return None
    return [code == "ConditionalCheckFailed" for code in codes]


@dataclass
class InMemoryRollups:
    """The same records in a dict: for unit tests and the in-memory ad server."""

    records: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, increment: RollupIncrement) -> None:
        with self._lock:
            key = (increment.store, increment.hour_ms)
            current = self.records.get(key, {})
            self.records[key] = {
                "store": increment.store,
                "hour": f"{increment.hour_ms:013d}",
                "hour_ms": increment.hour_ms,
                "cells": encode_cells(added(decode_cells(current), increment)),
            }

    def hours(self, store: str, from_ms: int, to_ms: int) -> list[dict[str, Any]]:
        with self._lock:
            return [
                dict(record)
                for (record_store, hour_ms), record in sorted(self.records.items())
                if record_store == store and hour_of(from_ms) <= hour_ms < to_ms
            ]


# ---------------------------------------------------------------------------- reading


class Cell:
    """The counts of one or more cells summed (``CELL_FIELDS`` of them, in that order)."""

    __slots__ = ("counts",)

    def __init__(self, counts: Sequence[float] = ()) -> None:
        self.counts = [*counts, *[0] * (CELL_FIELDS - len(counts))]

    def add(self, counts: Sequence[float]) -> None:
        self.counts[: len(counts)] = [a + b for a, b in zip(self.counts, counts, strict=False)]

    @property
    def people(self) -> int:
        return int(self.counts[PEOPLE])

    @property
    def watchers(self) -> int:
        return int(self.counts[WATCHERS])

    @property
    def impressions(self) -> int:
        return int(self.counts[IMPRESSIONS])

    @property
    def play_s(self) -> float:
        return float(self.counts[PLAY_S])

    @property
    def play_people(self) -> int:
        return int(self.counts[PLAY_PEOPLE])

    @property
    def play_watchers(self) -> int:
        return int(self.counts[PLAY_WATCHERS])

    @property
    def dwell_bins(self) -> list[int]:
        return [int(c) for c in self.counts[DWELL_BINS:LOOKING_BINS]]

    @property
    def looking_bins(self) -> list[int]:
        return [int(c) for c in self.counts[LOOKING_BINS:PLAY_PEOPLE]]


def cells_of(record: Mapping[str, Any]) -> dict[CellKey, list[float]]:
    """The cells of one store-hour record: (place, bucket) -> its counts (maybe short)."""
    cells: dict[CellKey, list[float]] = {}
    for key, counts in decode_cells(record).items():
        place, _, bucket = key.partition(SEPARATOR)
        cells[(place, bucket)] = counts
    return cells


def quantile(bins: Sequence[int], q: float) -> float | None:
    """The ``q`` quantile of a histogram over ``HISTOGRAM_EDGES_S`` (None when empty)."""
    total = sum(bins)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(bins):
        if count and seen + count >= rank:
            if index == 0:
                return 0.0
            if index == len(HISTOGRAM_EDGES_S):
                return HISTOGRAM_EDGES_S[-1]
            low, high = HISTOGRAM_EDGES_S[index - 1], HISTOGRAM_EDGES_S[index]
            return round(low + (high - low) * (rank - seen) / count, 2)
        seen += count
    return HISTOGRAM_EDGES_S[-1]
