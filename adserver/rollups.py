"""Hourly rollups: what reports read instead of raw observations.

One record per store and hour holds, for each camera and audience bucket, the people
(tracks, i.e. opportunities to see) who arrived in that hour, the watchers among them,
the sums and histograms of their dwell and looking seconds, and, for each display and
bucket, the impressions played and their seconds. Records are kept up to date as events
happen: the tracker adds a person when their track closes, the ad server adds a play when
its impression arrives (see ``lambdas.tracker.store`` and ``adserver.impressions``, which
write each increment in one transaction with the track or impression it counts, so a
retried write never counts twice). A month of a store is 744 records, whatever the traffic.

An increment's counters are top-level number attributes named ``measure|place|bucket``
(``people|cam-1|adult/female``, ``dwell#3|cam-1|adult/female``), so DynamoDB's ``ADD``
updates each one atomically, however many writers there are. Nothing per person is kept:
a person becomes +1 in counters shared with everyone of their bucket in that hour.

Median and p90 are read from the histograms (bins up to ``HISTOGRAM_EDGES_S``), linearly
interpolated inside a bin, so they are accurate to within one bin's width.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from adserver.tracks import Track

HOUR_MS = 3_600_000
# Upper bounds (inclusive) of the dwell and looking histograms' bins, in seconds. Bin 0
# holds exactly 0 (a person who never looked); values over the last edge share one bin.
HISTOGRAM_EDGES_S: tuple[float, ...] = (
    0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0,
    600.0,
)  # fmt: skip
PEOPLE, WATCHERS, DWELL_S, LOOKING_S = "people", "watchers", "dwell_s", "looking_s"
DWELL_BIN, LOOKING_BIN = "dwell#", "looking#"
IMPRESSIONS, PLAY_S = "impressions", "play_s"
SEPARATOR = "|"
DEFAULT_RETENTION_DAYS = 400


def hour_of(ms: int) -> int:
    return ms - ms % HOUR_MS


def histogram_bin(seconds: float) -> int:
    """The histogram bin of a duration: 0 for 0 s, then one per edge, then the overflow."""
    return bisect.bisect_left(HISTOGRAM_EDGES_S, max(seconds, 0.0))


def counter_name(measure: str, place: str, bucket: str) -> str:
    return SEPARATOR.join((measure, place, bucket))


@dataclass(frozen=True)
class RollupIncrement:
    """What one event adds to one store-hour record: counter name -> amount."""

    store: str
    hour_ms: int
    counters: Mapping[str, int | float]


def track_increment(track: Track, watcher_looking_s: float) -> RollupIncrement:
    """A person whose track closed: +1 in their camera's bucket in the hour they arrived."""
    store, _, camera = track.camera.partition("/")
    # adserver.catalog.bucket_name's spelling, without its imports: the tracker ships this.
    bucket = f"{track.age_band}/{track.gender}"
    watcher = track.looking_s >= watcher_looking_s
    counters: dict[str, int | float] = {
        counter_name(PEOPLE, camera, bucket): 1,
        counter_name(WATCHERS, camera, bucket): int(watcher),
        counter_name(DWELL_S, camera, bucket): round(track.dwell_s, 3),
        counter_name(LOOKING_S, camera, bucket): round(track.looking_s, 3),
        counter_name(f"{DWELL_BIN}{histogram_bin(track.dwell_s)}", camera, bucket): 1,
        counter_name(f"{LOOKING_BIN}{histogram_bin(track.looking_s)}", camera, bucket): 1,
    }
    return RollupIncrement(store, hour_of(track.started_at_ms), counters)


def impression_increment(
    store: str, display: str, bucket: str, started_at_ms: int, duration_s: float
) -> RollupIncrement:
    """A play: +1 impression (and its seconds) for its display and the bucket it was for."""
    counters: dict[str, int | float] = {
        counter_name(IMPRESSIONS, display, bucket): 1,
        counter_name(PLAY_S, display, bucket): round(duration_s, 3),
    }
    return RollupIncrement(store, hour_of(started_at_ms), counters)


def merged(increments: Iterable[RollupIncrement]) -> list[RollupIncrement]:
    """Increments summed per store-hour (for a backlog written at once)."""
    sums: dict[tuple[str, int], dict[str, int | float]] = defaultdict(dict)
    for increment in increments:
        counters = sums[(increment.store, increment.hour_ms)]
        for name, amount in increment.counters.items():
            counters[name] = counters.get(name, 0) + amount
    return [RollupIncrement(store, hour, counters) for (store, hour), counters in sums.items()]


class RollupReader(Protocol):
    def hours(self, store: str, from_ms: int, to_ms: int) -> list[dict[str, Any]]:
        """The store's records of the hours that overlap [from_ms, to_ms), oldest first."""
        ...


class DynamoRollups:
    """The rollups table: partition key ``store``, sort key ``hour`` (13-digit epoch ms)."""

    def __init__(self, table: Any, *, retention_days: int = DEFAULT_RETENTION_DAYS) -> None:
        """``table`` is a boto3 ``dynamodb.Table`` resource."""
        self._table = table
        self._retention_s = retention_days * 86_400

    @property
    def table(self) -> Any:
        return self._table

    def update_request(self, increment: RollupIncrement) -> dict[str, Any]:
        """The UpdateItem arguments that add ``increment`` (also a transaction's Update)."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {
            ":hour_ms": increment.hour_ms,
            ":expires": increment.hour_ms // 1000 + self._retention_s,
        }
        additions = []
        for index, (name, amount) in enumerate(sorted(increment.counters.items())):
            names[f"#c{index}"] = name
            values[f":c{index}"] = Decimal(str(amount))
            additions.append(f"#c{index} :c{index}")
        return {
            "TableName": self._table.name,
            "Key": {"store": increment.store, "hour": f"{increment.hour_ms:013d}"},
            "UpdateExpression": "SET hour_ms = :hour_ms, expires_at = :expires ADD "
            + ", ".join(additions),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def put_counted(self, table: Any, item: Mapping[str, Any], increment: RollupIncrement) -> bool:
        """Write ``item`` (a track, an impression) to ``table`` and add ``increment`` here, both
        or neither, unless an item with its key (a ``sort_key`` range key) is already there:
        then nothing is written and False returned, so a retried write never counts twice."""
        put = {
            "TableName": table.name,
            "Item": dict(item),
            "ConditionExpression": "attribute_not_exists(sort_key)",
        }
        try:
            self._table.meta.client.transact_write_items(
                TransactItems=[{"Put": put}, {"Update": self.update_request(increment)}]
            )
        except ClientError as error:
            if not _already_written(error):
                raise
            return False
        return True

    def add(self, increment: RollupIncrement) -> None:
        """Add one increment on its own (not in a transaction with what it counts)."""
        request = self.update_request(increment)
        del request["TableName"]
        self._table.update_item(**request)

    def hours(self, store: str, from_ms: int, to_ms: int) -> list[dict[str, Any]]:
        condition = Key("store").eq(store) & Key("hour").between(
            f"{hour_of(max(from_ms, 0)):013d}", f"{max(to_ms - 1, 0):013d}"
        )
        items: list[dict[str, Any]] = []
        query: dict[str, Any] = {"KeyConditionExpression": condition}
        while True:
            page = self._table.query(**query)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _already_written(error: ClientError) -> bool:
    """Whether a cancelled transaction failed only on its put's "not written yet" check."""
    if error.response["Error"]["Code"] != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons") or []
    if not reasons:  # moto carries the reasons only in the message
        return "ConditionalCheckFailed" in str(error)
    return reasons[0].get("Code") == "ConditionalCheckFailed"


@dataclass
class InMemoryRollups:
    """The same records in a dict: for unit tests and the in-memory ad server."""

    records: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, increment: RollupIncrement) -> None:
        with self._lock:
            key = (increment.store, increment.hour_ms)
            record = self.records.setdefault(
                key,
                {
                    "store": increment.store,
                    "hour": f"{increment.hour_ms:013d}",
                    "hour_ms": increment.hour_ms,
                },
            )
            for name, amount in increment.counters.items():
                record[name] = record.get(name, 0) + amount

    def hours(self, store: str, from_ms: int, to_ms: int) -> list[dict[str, Any]]:
        with self._lock:
            return [
                dict(record)
                for (record_store, hour_ms), record in sorted(self.records.items())
                if record_store == store and hour_of(from_ms) <= hour_ms < to_ms
            ]


# ---------------------------------------------------------------------------- reading


@dataclass
class Cell:
    """The counters of one place (camera or display) and bucket, summed over any hours."""

    people: int = 0
    watchers: int = 0
    dwell_s: float = 0.0
    looking_s: float = 0.0
    dwell_bins: list[int] = field(default_factory=lambda: [0] * (len(HISTOGRAM_EDGES_S) + 1))
    looking_bins: list[int] = field(default_factory=lambda: [0] * (len(HISTOGRAM_EDGES_S) + 1))
    impressions: int = 0
    play_s: float = 0.0

    def add(self, other: Cell) -> None:
        self.people += other.people
        self.watchers += other.watchers
        self.dwell_s += other.dwell_s
        self.looking_s += other.looking_s
        self.impressions += other.impressions
        self.play_s += other.play_s
        for mine, theirs in (
            (self.dwell_bins, other.dwell_bins),
            (self.looking_bins, other.looking_bins),
        ):
            for index, count in enumerate(theirs):
                mine[index] += count

    def count(self, measure: str, amount: float) -> None:
        """Add a record's counter (``measure`` as in the counter's name)."""
        if measure == PEOPLE:
            self.people += int(amount)
        elif measure == WATCHERS:
            self.watchers += int(amount)
        elif measure == DWELL_S:
            self.dwell_s += amount
        elif measure == LOOKING_S:
            self.looking_s += amount
        elif measure == IMPRESSIONS:
            self.impressions += int(amount)
        elif measure == PLAY_S:
            self.play_s += amount
        elif measure.startswith(DWELL_BIN):
            self.dwell_bins[int(measure.removeprefix(DWELL_BIN))] += int(amount)
        elif measure.startswith(LOOKING_BIN):
            self.looking_bins[int(measure.removeprefix(LOOKING_BIN))] += int(amount)


HourCells = dict[tuple[str, str], Cell]  # (place, bucket) -> cell


def cells_of(record: Mapping[str, Any]) -> HourCells:
    """The cells of one store-hour record (a DynamoDB item or an in-memory record)."""
    cells: HourCells = defaultdict(Cell)
    for name, amount in record.items():
        if name.count(SEPARATOR) != 2:
            continue  # the key, hour_ms, expires_at
        measure, place, bucket = name.split(SEPARATOR)
        cells[(place, bucket)].count(measure, float(amount))
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
