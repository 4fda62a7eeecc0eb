"""Proof of play: what a display showed, when and for how long.

The player posts one impression after each creative it showed. The record is
validated against the catalog and stored per store, sorted by start time, so
the store report and a display's frequency cap read it with one range query.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Annotated, Any, Protocol

from boto3.dynamodb.conditions import Key
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adserver.catalog import ALL_BUCKETS, NO_AUDIENCE, Catalog
from adserver.selection import Play

# A player that was offline may report late, but not from another month.
MAX_REPORT_DELAY_MS = 7 * 24 * 3600 * 1000
MAX_CLOCK_AHEAD_MS = 5 * 60 * 1000
RETENTION_S = 90 * 24 * 3600
END_OF_TIME_MS = 10**13  # year 2286; keeps the 13-digit sort keys in order


class ImpressionRejected(ValueError):
    """An impression we will not record; ``reason`` goes back to the player."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ImpressionRequest(BaseModel):
    """The body of ``POST /v1/displays/{id}/impressions``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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

    @property
    def sort_key(self) -> str:
        # Zero-padded so string order is time order; display and ad make it unique,
        # so a player re-sending the same impression overwrites instead of double counting.
        return f"{self.started_at_ms:013d}#{self.display}#{self.ad_id}"


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


def plays_on(display: str, impressions: list[Impression]) -> list[Play]:
    """The plays of one display among a store's impressions."""
    return [Play(i.ad_id, i.started_at_ms) for i in impressions if i.display == display]


class ImpressionStore(Protocol):
    """Where impressions live; DynamoDB in the cloud, a list in tests."""

    def put(self, impression: Impression) -> None: ...

    def for_store(self, store: str, from_ms: int, to_ms: int) -> list[Impression]:
        """Impressions started in [from_ms, to_ms), oldest first."""
        ...

    def recent_plays(self, store: str, display: str, since_ms: int) -> list[Play]:
        """One display's plays since ``since_ms``, for its frequency caps."""
        ...


class InMemoryImpressionStore:
    """An ImpressionStore for tests and the local demo."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], Impression] = {}
        self._lock = threading.Lock()

    def put(self, impression: Impression) -> None:
        with self._lock:
            self._rows[(impression.store, impression.sort_key)] = impression

    def for_store(self, store: str, from_ms: int, to_ms: int) -> list[Impression]:
        with self._lock:
            rows = [i for (s, _), i in self._rows.items() if s == store]
        return sorted(
            (i for i in rows if from_ms <= i.started_at_ms < to_ms), key=lambda i: i.sort_key
        )

    def recent_plays(self, store: str, display: str, since_ms: int) -> list[Play]:
        return plays_on(display, self.for_store(store, since_ms, END_OF_TIME_MS))


class DynamoImpressionStore:
    """Impressions in a DynamoDB table: partition key ``store``, sort key ``sort_key``."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def put(self, impression: Impression) -> None:
        item = {key: value for key, value in asdict(impression).items() if value is not None}
        item["duration_s"] = Decimal(str(impression.duration_s))
        item["sort_key"] = impression.sort_key
        item["expires_at"] = impression.recorded_at_ms // 1000 + RETENTION_S
        self._table.put_item(Item=item)

    def for_store(self, store: str, from_ms: int, to_ms: int) -> list[Impression]:
        condition = Key("store").eq(store) & Key("sort_key").between(
            f"{from_ms:013d}", f"{max(to_ms - 1, 0):013d}#\uffff"
        )
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": condition}
        while True:
            page = self._table.query(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [_impression_from_item(item) for item in items]

    def recent_plays(self, store: str, display: str, since_ms: int) -> list[Play]:
        return plays_on(display, self.for_store(store, since_ms, END_OF_TIME_MS))


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
