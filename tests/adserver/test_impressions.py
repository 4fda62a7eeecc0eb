"""Proof of play: request validation and the two impression stores."""

from __future__ import annotations

import json
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
    record_play,
    updated_play_log,
)
from adserver.rollups import DynamoRollups, InMemoryRollups, cells_of
from adserver.selection import Play
from adserver.tickets import TICKET_VALIDITY_MS, PlayTicket
from infra.bench_next_ad import create_table

NOW_MS = 1_717_781_400_000
STORE, DISPLAY = "demo-store", "demo-display-1"


def impression(
    display: str, ad_id: str, started_at_ms: int, store: str = "demo-store"
) -> Impression:
    return Impression(store, display, ad_id, None, "none", started_at_ms, 5.0, started_at_ms + 5000)


@pytest.fixture(params=["memory", "dynamodb", "dynamodb+rollups"])
def store(request: pytest.FixtureRequest) -> ImpressionStore:
    if request.param == "memory":
        return InMemoryImpressionStore(InMemoryRollups())
    dynamodb = request.getfixturevalue("dynamodb")
    table = create_impressions_table(dynamodb, f"imp-{uuid.uuid4().hex[:8]}")
    if request.param == "dynamodb":
        return DynamoImpressionStore(table)
    rollups = DynamoRollups(create_table(dynamodb, "RollupsTable", f"rollups-{uuid.uuid4().hex}"))
    return DynamoImpressionStore(table, rollups=rollups)


# --- plays reported with their tickets ---------------------------------------------------


def issued(
    store: ImpressionStore,
    ad_id: str = "senior-female",
    bucket: str = "senior/female",
    issued_at_ms: int = NOW_MS - 60_000,
    display: str = DISPLAY,
) -> PlayTicket:
    """A ticket as next-ad keeps it (adserver.decisions makes its id from the decision)."""
    ticket = PlayTicket(uuid.uuid4().hex, STORE, display, ad_id, bucket, issued_at_ms)
    store.issue_ticket(ticket)
    return ticket


def body(played: PlayTicket, **overrides: Any) -> dict[str, Any]:
    return {
        "ticket": played.id,
        "ad_id": played.ad_id,
        "started_at_ms": NOW_MS - 8_000,
        "duration_s": 8.0,
        **overrides,
    }


def report(store: ImpressionStore, now_ms: int = NOW_MS) -> tuple[int, list[Impression]]:
    """(plays recorded, rows in the store's last two days)."""
    rows = store.for_store(STORE, now_ms - 2 * 86_400_000, now_ms + 86_400_000)
    return len(rows), rows


def test_a_play_is_recorded_with_the_tickets_ad_bucket_and_campaign(
    store: ImpressionStore, catalog: Catalog
) -> None:
    # GIVEN a ticket next-ad issued for senior/female
    ticket = issued(store)
    # WHEN the display reports its play, naming another bucket in the body
    sent = body(ticket, bucket="young_adult/male")
    answer = json.loads(record_play(sent, STORE, DISPLAY, catalog, store, NOW_MS))
    # THEN the play is recorded under the ticket's bucket, with its campaign and ticket
    assert answer["bucket"] == "senior/female"
    assert answer["campaign_id"] == "senior-female-reading-glasses"
    assert answer["ticket"] == ticket.id and answer["recorded_at_ms"] == NOW_MS
    (row,) = report(store)[1]
    assert (row.bucket, row.started_at_ms, row.duration_s) == ("senior/female", NOW_MS - 8000, 8)
    assert store.recent_plays(STORE, DISPLAY, 0) == [Play("senior-female", NOW_MS - 8000, 8000)]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"ticket": "0" * 32}, "ticket: unknown, expired or not this display's"),
        ({"ticket": "not-a-ticket"}, "ticket: String should match pattern"),
        ({"ad_id": "senior-male"}, "ad_id: the ticket is for 'senior-female'"),
        ({"duration_s": 9.5}, "duration_s: longer than the creative (8 s)"),
        ({"duration_s": 3600}, "duration_s: longer than the creative (8 s)"),
        ({"duration_s": -1}, "duration_s: Input should be greater than or equal to 0"),
        ({"started_at_ms": NOW_MS - 60_000 - 301_000}, "started_at_ms: before the ticket's"),
        ({"started_at_ms": NOW_MS + 3_600_000}, "started_at_ms: in the future"),
        ({"extra": 1}, "extra: Extra inputs are not permitted"),
        ({"ticket": None}, "ticket: Input should be a valid string"),
    ],
)
def test_bad_plays_are_refused_with_a_reason_and_change_nothing(
    store: ImpressionStore, catalog: Catalog, overrides: dict[str, Any], reason: str
) -> None:
    ticket = issued(store)
    with pytest.raises(ImpressionRejected) as refused:
        record_play(body(ticket, **overrides), STORE, DISPLAY, catalog, store, NOW_MS)
    assert reason in refused.value.reason and refused.value.status == 400
    assert report(store)[0] == 0
    # AND the ticket is still good for the play it was issued for
    record_play(body(ticket), STORE, DISPLAY, catalog, store, NOW_MS)
    assert report(store)[0] == 1


def test_a_body_that_is_not_an_object_is_refused(store: ImpressionStore, catalog: Catalog) -> None:
    with pytest.raises(ImpressionRejected) as refused:
        record_play(None, STORE, DISPLAY, catalog, store, NOW_MS)
    assert "Input should be a valid dictionary" in refused.value.reason


def test_another_displays_ticket_and_an_expired_ticket_are_unknown(
    store: ImpressionStore, catalog: Catalog
) -> None:
    # GIVEN a ticket of another display, and one of this display issued 24 h and 1 s ago
    theirs = issued(store, display="demo-display-2")
    old = issued(store, issued_at_ms=NOW_MS - TICKET_VALIDITY_MS - 1000)
    # WHEN this display reports plays with them THEN neither is known
    for ticket in (theirs, old):
        sent = body(ticket, started_at_ms=ticket.issued_at_ms + 1000)
        with pytest.raises(ImpressionRejected) as refused:
            record_play(sent, STORE, DISPLAY, catalog, store, NOW_MS)
        assert refused.value.reason.startswith("ticket: unknown, expired")
    assert report(store)[0] == 0


def test_an_offline_players_play_is_taken_within_the_tickets_day(
    store: ImpressionStore, catalog: Catalog
) -> None:
    # GIVEN a play made with a ticket 23 hours ago, while the player was offline since
    ticket = issued(store, issued_at_ms=NOW_MS - 23 * 3_600_000)
    sent = body(ticket, started_at_ms=ticket.issued_at_ms + 2000)
    # WHEN the player is back and sends it THEN it is recorded
    record_play(sent, STORE, DISPLAY, catalog, store, NOW_MS)
    assert report(store)[1][0].started_at_ms == ticket.issued_at_ms + 2000


def test_a_replay_is_the_same_answer_and_a_changed_body_is_a_conflict(
    store: ImpressionStore, catalog: Catalog
) -> None:
    # GIVEN a play recorded with its ticket
    ticket = issued(store)
    first = record_play(body(ticket), STORE, DISPLAY, catalog, store, NOW_MS)
    # WHEN the same body comes again later (a retry after a lost answer), another bucket aside
    again = record_play(
        body(ticket, bucket="teen/male"), STORE, DISPLAY, catalog, store, NOW_MS + 5000
    )
    # THEN the answer is the same and nothing changed
    assert again == first
    # WHEN the ticket comes with another duration or start THEN 409, and nothing changed
    for changed in (body(ticket, duration_s=4.0), body(ticket, started_at_ms=NOW_MS - 9000)):
        with pytest.raises(ImpressionRejected) as refused:
            record_play(changed, STORE, DISPLAY, catalog, store, NOW_MS + 5000)
        assert refused.value.status == 409
        assert refused.value.reason == "ticket: already used for another play"
    count, rows = report(store)
    assert count == 1 and rows[0].duration_s == 8.0
    assert len(store.recent_plays(STORE, DISPLAY, 0)) == 1


def test_plays_of_one_display_cannot_overlap(store: ImpressionStore, catalog: Catalog) -> None:
    # GIVEN a play of 8 s recorded with one ticket
    record_play(body(issued(store)), STORE, DISPLAY, catalog, store, NOW_MS)
    # WHEN another ticket reports a play starting 2 s into it THEN it is refused (409)
    later = issued(store, ad_id="house-welcome", bucket="none")
    sent = body(later, started_at_ms=NOW_MS - 6000, duration_s=6.0)
    with pytest.raises(ImpressionRejected) as refused:
        record_play(sent, STORE, DISPLAY, catalog, store, NOW_MS)
    assert refused.value.status == 409
    assert "overlaps this display's play of senior-female" in refused.value.reason
    # AND one that starts as the first ends (within the tolerance) is recorded
    sent = body(later, started_at_ms=NOW_MS - 500, duration_s=0.4)
    record_play(sent, STORE, DISPLAY, catalog, store, NOW_MS)
    assert report(store)[0] == 2
    # AND another display's plays are its own
    theirs = issued(store, display="demo-display-2")
    record_play(body(theirs), STORE, "demo-display-2", catalog, store, NOW_MS)
    assert report(store)[0] == 3


def test_a_play_a_little_longer_than_its_creative_counts_as_the_creative(
    store: ImpressionStore, catalog: Catalog
) -> None:
    ticket = issued(store)
    answer = json.loads(
        record_play(body(ticket, duration_s=8.6), STORE, DISPLAY, catalog, store, NOW_MS)
    )
    assert answer["duration_s"] == 8.0


def test_a_recorded_play_is_counted_once_in_the_rollups(catalog: Catalog) -> None:
    # GIVEN an in-memory store with rollups and a play reported, then replayed
    rollups = InMemoryRollups()
    store = InMemoryImpressionStore(rollups)
    ticket = issued(store)
    for _ in range(3):
        record_play(body(ticket), STORE, DISPLAY, catalog, store, NOW_MS)
    # THEN its hour counts one impression of 8 s
    (record,) = rollups.hours(STORE, NOW_MS - 3_600_000, NOW_MS + 3_600_000)
    assert cells_of(record)[(DISPLAY, "senior/female")][2:4] == [1, 8]


def test_issuing_a_ticket_again_keeps_its_first_decision_time(store: ImpressionStore) -> None:
    first = issued(store, issued_at_ms=NOW_MS - 5000)
    store.issue_ticket(PlayTicket(first.id, STORE, DISPLAY, first.ad_id, first.bucket, NOW_MS))
    kept = store.ticket(STORE, DISPLAY, first.id)
    assert kept is not None and kept.issued_at_ms == NOW_MS - 5000 and not kept.used


# --- the stores ----------------------------------------------------------------------------


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
    assert store.recent_plays("demo-store", "d1", 5000) == [Play("teen-female", 9000, 5000)]


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
    assert store.recent_plays("demo-store", "d1", 0) == [Play("adult-male", 5000, 5000)]


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


def test_a_ticket_polled_again_is_written_once(dynamodb: Any) -> None:
    # GIVEN a player polling next-ad without If-None-Match: the same ticket every second
    table = create_impressions_table(dynamodb, "impressions-issue")
    counted = CountingWrites(table)
    store = DynamoImpressionStore(counted)
    ticket = PlayTicket("a" * 32, STORE, DISPLAY, "house-welcome", "none", NOW_MS)
    # WHEN it is issued five times THEN it is written once, and kept
    for _ in range(5):
        store.issue_ticket(ticket)
    assert counted.puts == 1
    assert DynamoImpressionStore(table).ticket(STORE, DISPLAY, ticket.id) == ticket


class CountingWrites:
    """A boto3 Table that counts the PutItems made through it."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self.puts = 0

    def put_item(self, **kwargs: Any) -> Any:
        self.puts += 1
        return self._table.put_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)
