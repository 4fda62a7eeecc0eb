"""Proof of play: what a display showed, when and for how long.

The player posts one impression after each creative it showed. The record is
validated against the catalog and stored per store, sorted by start time, so the
store report reads a range of hours with one query.

A display's frequency caps need only that display's latest plays, and ``next-ad``
asks for them on every poll; reading them out of the store's whole history made
each poll slower as proof of play grew. So each display also has one play log
item holding its newest plays (at most ``PLAY_LOG_LIMIT``, none older than
``PLAY_LOG_HORIZON_MS``), kept up to date as impressions arrive: a poll costs one
GetItem however many impressions the store holds.

Given the hourly rollups (``adserver.rollups``), a store adds each new impression to them
in the same write (a DynamoDB transaction), so reports read impressions from the rollups
and a re-sent impression is not counted twice.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Annotated, Any, Protocol

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adserver.catalog import ALL_BUCKETS, NO_AUDIENCE, Catalog
from adserver.rollups import (
    DynamoRollups,
    InMemoryRollups,
    RollupIncrement,
    impression_increment,
)
from adserver.selection import Play
from lambdas.dynamodb_pages import all_items

# A player that was offline may report late, but not from another month.
MAX_REPORT_DELAY_MS = 7 * 24 * 3600 * 1000
MAX_CLOCK_AHEAD_MS = 5 * 60 * 1000
RETENTION_S = 90 * 24 * 3600
END_OF_KEYS_MS = 10**13  # year 2286; keeps the 13-digit sort keys in order
# Frequency caps look back at most this far; longer caps are clipped to it.
PLAY_LOG_HORIZON_MS = 24 * 3600 * 1000
# A display's play log keeps at most this many plays (2.2 hours of 8-second creatives), so
# the item stays a few tens of KB; a cap whose window holds more plays counts only these.
PLAY_LOG_LIMIT = 1000
# The play log's sort key; impression sort keys start with a digit, so a store's time-range
# query never meets a play log.
PLAY_LOG_PREFIX = "plays#"


class ImpressionRejected(ValueError):
    """An impression we will not record; ``reason`` goes back to the player."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ImpressionRequest(BaseModel):
    """The body of ``POST /v1/displays/{id}/impressions``."""

    # Strict: numbers are JSON numbers, not strings of digits; NaN and infinity are refused.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)

    ad_id: Annotated[str, Field(min_length=1, max_length=64)]
    started_at_ms: Annotated[int, Field(ge=0)]
    duration_s: Annotated[float, Field(ge=0, le=3600)]
    bucket: str = NO_AUDIENCE


@dataclass(frozen=True)
class Impression:
    """One play of one creative on one display."""

    store: str
    display: str
    ad_id: str
    campaign_id: str | None
    bucket: str
    started_at_ms: int
    duration_s: float
    recorded_at_ms: int
    # Who was in front of the display while it played (adserver.play_audience); counts only.
    audience_people: int = 0
    audience_watchers: int = 0

    @property
    def sort_key(self) -> str:
        # Zero-padded so string order is time order; display and ad make it unique,
        # so a player re-sending the same impression overwrites instead of double counting.
        return f"{self.started_at_ms:013d}#{self.display}#{self.ad_id}"

    def rollup_increment(self) -> RollupIncrement:
        return impression_increment(
            self.store,
            self.display,
            self.ad_id,
            self.bucket,
            self.started_at_ms,
            self.duration_s,
            self.audience_people,
            self.audience_watchers,
        )


def impression_from_request(
    body: Mapping[str, Any] | None, store: str, display: str, catalog: Catalog, now_ms: int
) -> Impression:
    """Validate a player's impression; raise ImpressionRejected with the reason."""
    try:
        request = ImpressionRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise ImpressionRejected(f"{field}: {first['msg']}") from None
    if catalog.creative(request.ad_id) is None:
        raise ImpressionRejected(f"ad_id: unknown creative {request.ad_id!r}")
    if request.bucket not in (*ALL_BUCKETS, NO_AUDIENCE):
        raise ImpressionRejected(f"bucket: unknown audience bucket {request.bucket!r}")
    if request.started_at_ms > now_ms + MAX_CLOCK_AHEAD_MS:
        raise ImpressionRejected("started_at_ms: in the future")
    if request.started_at_ms < now_ms - MAX_REPORT_DELAY_MS:
        raise ImpressionRejected("started_at_ms: older than 7 days")
    campaign = catalog.campaign_of(request.ad_id)
    return Impression(
        store=store,
        display=display,
        ad_id=request.ad_id,
        campaign_id=campaign.id if campaign else None,
        bucket=request.bucket,
        started_at_ms=request.started_at_ms,
        duration_s=request.duration_s,
        recorded_at_ms=now_ms,
    )


def updated_play_log(log: Iterable[Play], new: Iterable[Play], now_ms: int) -> list[Play]:
    """A display's play log with ``new`` plays added: oldest first, no repeats, none older
    than ``PLAY_LOG_HORIZON_MS`` before ``now_ms``, at most ``PLAY_LOG_LIMIT`` (the newest)."""
    oldest_ms = now_ms - PLAY_LOG_HORIZON_MS
    kept = {play for play in (*log, *new) if play.started_at_ms >= oldest_ms}
    return sorted(kept, key=lambda play: (play.started_at_ms, play.ad_id))[-PLAY_LOG_LIMIT:]


class ImpressionStore(Protocol):
    """Where impressions live; DynamoDB in the cloud, a dict in tests."""

    def put(self, impression: Impression) -> None: ...

    def put_many(self, impressions: Iterable[Impression]) -> None:
        """Record a backlog (a player back online, a benchmark's history) in one go."""
        ...

    def for_store(self, store: str, from_ms: int, to_ms: int) -> list[Impression]:
        """Impressions started in [from_ms, to_ms), oldest first."""
        ...

    def recent_plays(self, store: str, display: str, since_ms: int) -> list[Play]:
        """One display's plays since ``since_ms`` from its play log, oldest first."""
        ...


class InMemoryImpressionStore:
    """An ImpressionStore for tests and the local demo."""

    def __init__(self, rollups: InMemoryRollups | None = None) -> None:
        self._rows: dict[tuple[str, str], Impression] = {}
        self._play_logs: dict[tuple[str, str], list[Play]] = {}
        self._lock = threading.Lock()
        self.rollups = rollups

    def put(self, impression: Impression) -> None:
        play = Play(impression.ad_id, impression.started_at_ms)
        display = (impression.store, impression.display)
        with self._lock:
            key = (impression.store, impression.sort_key)
            if self.rollups is not None and key not in self._rows:
                self.rollups.add(impression.rollup_increment())
            self._rows[key] = impression
            log = self._play_logs.get(display, [])
            self._play_logs[display] = updated_play_log(log, [play], impression.recorded_at_ms)

    def put_many(self, impressions: Iterable[Impression]) -> None:
        for impression in impressions:
            self.put(impression)

    def for_store(self, store: str, from_ms: int, to_ms: int) -> list[Impression]:
        with self._lock:
            rows = [i for (s, _), i in self._rows.items() if s == store]
        return sorted(
            (i for i in rows if from_ms <= i.started_at_ms < to_ms), key=lambda i: i.sort_key
        )

    def recent_plays(self, store: str, display: str, since_ms: int) -> list[Play]:
        with self._lock:
            log = self._play_logs.get((store, display), [])
        return [play for play in log if play.started_at_ms >= since_ms]


class PlayLogContention(RuntimeError):
    """A display's play log changed under us on every attempt; the caller may retry."""


class DynamoImpressionStore:
    """Impressions in a DynamoDB table: partition key ``store``, sort key ``sort_key``.

    Impressions have sort key "{started_at_ms:013d}#{display}#{ad_id}"; each display's play
    log has "plays#{display}", its plays as one JSON string of [started_at_ms, ad_id] pairs
    (one attribute, not a list of a thousand, which is cheap to read and write) and a
    version that makes concurrent updates of one log safe (optimistic locking).
    """

    def __init__(self, table: Any, attempts: int = 5, rollups: DynamoRollups | None = None) -> None:
        self._table = table
        self._attempts = attempts
        self._rollups = rollups

    def put(self, impression: Impression) -> None:
        self._write(impression)
        self._add_to_play_log(impression.store, impression.display, [impression])

    def _write(self, impression: Impression) -> None:
        """The impression, with its rollup increment if it is new; a re-sent one overwrites
        itself (its rollup already counts it)."""
        item = _item_of(impression)
        if self._rollups is None or not self._rollups.put_counted(
            self._table, item, impression.rollup_increment()
        ):
            self._table.put_item(Item=item)

    def put_many(self, impressions: Iterable[Impression]) -> None:
        """Record a backlog at once: batched writes and one play log update per display
        (with rollups, each impression is written as ``put`` writes it)."""
        backlog = list(impressions)
        if self._rollups is not None:
            for impression in backlog:  # one transaction each: a batch cannot count exactly once
                self._write(impression)
        else:
            with self._table.batch_writer(overwrite_by_pkeys=["store", "sort_key"]) as batch:
                for impression in backlog:
                    batch.put_item(Item=_item_of(impression))
        by_display: dict[tuple[str, str], list[Impression]] = defaultdict(list)
        for impression in backlog:
            by_display[(impression.store, impression.display)].append(impression)
        for (store, display), recorded in by_display.items():
            self._add_to_play_log(store, display, recorded)

    def _add_to_play_log(self, store: str, display: str, recorded: list[Impression]) -> None:
        new = [Play(i.ad_id, i.started_at_ms) for i in recorded]
        now_ms = max(i.recorded_at_ms for i in recorded)
        key = {"store": store, "sort_key": f"{PLAY_LOG_PREFIX}{display}"}
        for _ in range(self._attempts):
            item = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
            version = int(item["version"]) if item else 0
            log = _plays_of(item)
            updated = updated_play_log(log, new, now_ms)
            if updated == log:  # a re-sent impression, or one older than the log keeps
                return
            condition = Attr("version").eq(version) if item else Attr("sort_key").not_exists()
            try:
                self._table.put_item(
                    Item={
                        **key,
                        "plays": json.dumps([[p.started_at_ms, p.ad_id] for p in updated]),
                        "version": version + 1,
                        "expires_at": now_ms // 1000 + RETENTION_S,
                    },
                    ConditionExpression=condition,
                )
                return
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        raise PlayLogContention(f"play log of {store}/{display} kept changing; not updated")

    def for_store(self, store: str, from_ms: int, to_ms: int) -> list[Impression]:
        # Sort keys hold 13 digits, so string order is time order only below END_OF_KEYS_MS.
        from_ms, to_ms = max(from_ms, 0), min(to_ms, END_OF_KEYS_MS)
        if from_ms >= to_ms:
            return []
        condition = Key("store").eq(store) & Key("sort_key").between(
            f"{from_ms:013d}", f"{to_ms - 1:013d}#\uffff"
        )
        items = all_items(self._table.query, KeyConditionExpression=condition)
        return [_impression_from_item(item) for item in items]

    def recent_plays(self, store: str, display: str, since_ms: int) -> list[Play]:
        key = {"store": store, "sort_key": f"{PLAY_LOG_PREFIX}{display}"}
        log = _plays_of(self._table.get_item(Key=key).get("Item"))
        return [play for play in log if play.started_at_ms >= since_ms]


def _item_of(impression: Impression) -> dict[str, Any]:
    item = {key: value for key, value in asdict(impression).items() if value is not None}
    item["duration_s"] = Decimal(str(impression.duration_s))
    item["sort_key"] = impression.sort_key
    item["expires_at"] = impression.recorded_at_ms // 1000 + RETENTION_S
    return item


def _plays_of(play_log: Mapping[str, Any] | None) -> list[Play]:
    if play_log is None:
        return []
    return [Play(str(ad_id), int(started)) for started, ad_id in json.loads(play_log["plays"])]


def _impression_from_item(item: Mapping[str, Any]) -> Impression:
    return Impression(
        store=str(item["store"]),
        display=str(item["display"]),
        ad_id=str(item["ad_id"]),
        campaign_id=str(item["campaign_id"]) if "campaign_id" in item else None,
        bucket=str(item["bucket"]),
        started_at_ms=int(item["started_at_ms"]),
        duration_s=float(item["duration_s"]),
        recorded_at_ms=int(item["recorded_at_ms"]),
        audience_people=int(item.get("audience_people", 0)),
        audience_watchers=int(item.get("audience_watchers", 0)),
    )


def create_impressions_table(dynamodb: Any, name: str) -> Any:
    """Create the table as template.yaml declares it (for moto and the local stack)."""
    return dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "store", "KeyType": "HASH"},
            {"AttributeName": "sort_key", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "store", "AttributeType": "S"},
            {"AttributeName": "sort_key", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
