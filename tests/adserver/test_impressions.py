"""Proof of play: request validation and the two impression stores."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from adserver.catalog import Catalog
from adserver.impressions import (
    PLAY_LOG_HORIZON_MS,
    PLAY_LOG_LIMIT,
    DynamoImpressionStore,
    Impression,
    ImpressionRejected,
    ImpressionStore,
    InMemoryImpressionStore,
    create_impressions_table,
    impression_from_request,
    updated_play_log,
)
from adserver.selection import Play

NOW_MS = 1_717_781_400_000


def body(**overrides: Any) -> dict[str, Any]:
    return {
        "ad_id": "senior-female",
        "started_at_ms": NOW_MS - 8_000,
        "duration_s": 8.0,
        "bucket": "senior/female",
        **overrides,
    }


def impression(
    display: str, ad_id: str, started_at_ms: int, store: str = "demo-store"
) -> Impression:
    return Impression(store, display, ad_id, None, "none", started_at_ms, 5.0, started_at_ms + 5000)


def test_valid_request_becomes_an_impression_with_its_campaign(catalog: Catalog) -> None:
    record = impression_from_request(body(), "demo-store", "demo-display-1", catalog, NOW_MS)
    assert record == Impression(
        store="demo-store",
        display="demo-display-1",
        ad_id="senior-female",
        campaign_id="senior-female-reading-glasses",
        bucket="senior/female",
        started_at_ms=NOW_MS - 8_000,
        duration_s=8.0,
        recorded_at_ms=NOW_MS,
    )


def test_default_creative_has_no_campaign(catalog: Catalog) -> None:
    record = impression_from_request(
        body(ad_id="house-welcome", bucket="none"), "demo-store", "d1", catalog, NOW_MS
    )
    assert record.campaign_id is None


@pytest.mark.parametrize(
    ("request_body", "reason"),
    [
        (None, "Input should be a valid dictionary"),
        (body(ad_id="nope"), "ad_id: unknown creative 'nope'"),
        (body(bucket="elder/female"), "bucket: unknown audience bucket 'elder/female'"),
        (body(duration_s=-1), "duration_s: Input should be greater than or equal to 0"),
        (body(started_at_ms=NOW_MS + 3_600_000), "started_at_ms: in the future"),
        (body(started_at_ms=NOW_MS - 8 * 86_400_000), "started_at_ms: older than 7 days"),
        (body(extra=1), "extra: Extra inputs are not permitted"),
        ({"ad_id": "senior-female"}, "started_at_ms: Field required"),
    ],
)
def test_bad_requests_are_rejected_with_a_reason(
    catalog: Catalog, request_body: Any, reason: str
) -> None:
    with pytest.raises(ImpressionRejected) as exc:
        impression_from_request(request_body, "demo-store", "d1", catalog, NOW_MS)
    assert reason in exc.value.reason


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> ImpressionStore:
    if request.param == "memory":
        return InMemoryImpressionStore()
    dynamodb = request.getfixturevalue("dynamodb")
    return DynamoImpressionStore(create_impressions_table(dynamodb, f"imp-{uuid.uuid4().hex[:8]}"))


def test_store_range_query_is_half_open_and_per_store(store: ImpressionStore) -> None:
    # GIVEN impressions at t=1000, 2000, 3000 in one store and one in another
    for started in (1000, 2000, 3000):
        store.put(impression("d1", "adult-male", started))
    store.put(impression("x1", "adult-male", 2000, store="other-store"))
    # WHEN we ask for [1000, 3000) THEN we get the first two, oldest first
    rows = store.for_store("demo-store", 1000, 3000)
    assert [r.started_at_ms for r in rows] == [1000, 2000]
    assert all(r.store == "demo-store" for r in rows)


def test_resent_impression_is_not_double_counted(store: ImpressionStore) -> None:
    store.put(impression("d1", "adult-male", 5000))
    store.put(impression("d1", "adult-male", 5000))
    assert len(store.for_store("demo-store", 0, 10_000)) == 1


def test_recent_plays_are_per_display(store: ImpressionStore) -> None:
    store.put(impression("d1", "teen-male", 1000))
    store.put(impression("d1", "teen-female", 9000))
    store.put(impression("d2", "teen-male", 9500))
    assert store.recent_plays("demo-store", "d1", 5000) == [Play("teen-female", 9000)]


def test_dynamodb_round_trip_keeps_every_field(dynamodb: Any) -> None:
    table = create_impressions_table(dynamodb, "impressions-roundtrip")
    store = DynamoImpressionStore(table)
    original = Impression("s", "d", "adult-female", "camp", "adult/female", 1234, 7.25, 9999)
    store.put(original)
    assert store.for_store("s", 0, 2000) == [original]
    item = table.get_item(Key={"store": "s", "sort_key": original.sort_key})["Item"]
    assert int(item["expires_at"]) > 9999 // 1000


# --- the play log: what next-ad reads --------------------------------------------------


def test_play_log_keeps_the_newest_plays_within_the_horizon() -> None:
    # GIVEN a play 25 hours old and then more plays than the log keeps
    old = [Play("adult-male", NOW_MS - 25 * 3_600_000)]
    new = [Play("teen-male", NOW_MS - 20 * 3_600_000 + i * 10_000) for i in range(1020)]
    # WHEN they are added to a display's log
    log = updated_play_log(old, reversed(new), NOW_MS)
    # THEN it keeps the newest PLAY_LOG_LIMIT, oldest first
    assert log == new[-PLAY_LOG_LIMIT:]


def test_store_play_log_is_bounded_and_the_report_keeps_everything(
    store: ImpressionStore,
) -> None:
    # GIVEN more plays on one display than its log keeps, a backlog and then one at a time
    played = [
        impression("d1", "teen-male", NOW_MS - 20 * 3_600_000 + i * 10_000)
        for i in range(PLAY_LOG_LIMIT + 5)
    ]
    store.put_many(played[:-5])
    for one in played[-5:]:
        store.put(one)
    # WHEN next-ad reads the display's plays of the last day
    plays = store.recent_plays("demo-store", "d1", NOW_MS - PLAY_LOG_HORIZON_MS)
    # THEN it gets the newest PLAY_LOG_LIMIT; the store report still sees every impression
    assert len(plays) == PLAY_LOG_LIMIT
    assert plays[0].started_at_ms == NOW_MS - 20 * 3_600_000 + 5 * 10_000
    assert len(store.for_store("demo-store", 0, 10**13)) == PLAY_LOG_LIMIT + 5


def test_resent_impression_is_in_the_play_log_once(store: ImpressionStore) -> None:
    store.put(impression("d1", "adult-male", 5000))
    store.put(impression("d1", "adult-male", 5000))
    assert store.recent_plays("demo-store", "d1", 0) == [Play("adult-male", 5000)]


def test_next_ad_reads_one_item_however_long_the_history(dynamodb: Any) -> None:
    # GIVEN a store with many impressions on several displays
    table = create_impressions_table(dynamodb, "impressions-reads")
    DynamoImpressionStore(table).put_many(
        impression(f"d{i % 5}", "teen-male", NOW_MS - i * 1000) for i in range(500)
    )
    counted = CountingTable(table)
    # WHEN one display's recent plays are read
    plays = DynamoImpressionStore(counted).recent_plays("demo-store", "d3", 0)
    # THEN that is one GetItem, no query, and the answer is that display's 100 plays
    assert counted.calls == ["get_item"]
    assert len(plays) == 100 and {p.started_at_ms % 5000 for p in plays} == {2000}


def test_a_play_logged_meanwhile_by_another_writer_is_kept(dynamodb: Any) -> None:
    # GIVEN a log with one play, and another writer that logs a second play just after
    # our writer has read the log (two requests for one display in flight at once)
    table = create_impressions_table(dynamodb, "impressions-race")
    DynamoImpressionStore(table).put(impression("d1", "adult-male", NOW_MS - 3000))
    other = DynamoImpressionStore(table)
    racing = RacingTable(table, lambda: other.put(impression("d1", "teen-male", NOW_MS - 2000)))
    # WHEN our writer logs a third play
    DynamoImpressionStore(racing).put(impression("d1", "senior-male", NOW_MS - 1000))
    # THEN its first write was refused (the version moved), it retried, and all three are kept
    assert racing.play_log_writes == 2
    plays = DynamoImpressionStore(table).recent_plays("demo-store", "d1", 0)
    assert [play.ad_id for play in plays] == ["adult-male", "teen-male", "senior-male"]


class RacingTable:
    """A boto3 Table that runs ``meanwhile`` once, just before our first play log write."""

    def __init__(self, table: Any, meanwhile: Any) -> None:
        self._table = table
        self._meanwhile = meanwhile
        self.play_log_writes = 0

    def put_item(self, **kwargs: Any) -> Any:
        if kwargs["Item"]["sort_key"].startswith("plays#"):
            self.play_log_writes += 1
            if self.play_log_writes == 1:
                self._meanwhile()
        return self._table.put_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


class CountingTable:
    """A boto3 Table that records which reads were made through it."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name in ("get_item", "query", "scan", "batch_get_item"):
            self.calls.append(name)
        return getattr(self._table, name)


def test_a_range_across_the_keys_13_digits_is_answered(store: ImpressionStore) -> None:
    # GIVEN an impression now (its play log item shares the table)
    store.put(impression("d1", "adult-male", NOW_MS))
    # WHEN a report asks for an hour across 10**13 ms (where "9999..." sorts after "1000...")
    # or for the year 9999, or for everything
    across = store.for_store("demo-store", 10**13 - 1_800_000, 10**13 + 1_800_000)
    far = store.for_store("demo-store", 253_402_214_400_000 - 3_600_000, 253_402_214_400_000)
    everything = store.for_store("demo-store", 0, 10**15)
    # THEN the first two are empty and the last holds just the impression, not its play log
    assert across == [] and far == []
    assert [i.started_at_ms for i in everything] == [NOW_MS]


def test_report_queries_keep_between_bounds_in_order(dynamodb: Any) -> None:
    # DynamoDB (not moto) refuses BETWEEN with its lower bound above its upper one, which a
    # range across 10**13 ms would make of 13-digit keys ("9999..." > "1000...").
    table = BetweenCheckingTable(create_impressions_table(dynamodb, "impressions-between"))
    store = DynamoImpressionStore(table)
    for from_ms, to_ms in [(10**13 - 1_800_000, 10**13 + 1_800_000), (0, 10**15), (5, 6)]:
        store.for_store("demo-store", from_ms, to_ms)
    assert table.bounds and all(low <= high for low, high in table.bounds)


class BetweenCheckingTable:
    """A boto3 Table that records the BETWEEN bounds of each query, as DynamoDB checks them."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self.bounds: list[tuple[str, str]] = []

    def query(self, **kwargs: Any) -> Any:
        _partition, between = kwargs["KeyConditionExpression"].get_expression()["values"]
        _key, low, high = between.get_expression()["values"]
        self.bounds.append((low, high))
        return self._table.query(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)
