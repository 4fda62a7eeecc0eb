"""Hourly rollups: increments from people and plays, counted once, read back as cells."""

from __future__ import annotations

import random
import statistics

import boto3
import pytest

from adserver.catalog import bucket_name
from adserver.impressions import DynamoImpressionStore, Impression
from adserver.rollups import (
    HISTOGRAM_EDGES_S,
    HOUR_MS,
    Cell,
    DynamoRollups,
    InMemoryRollups,
    cells_of,
    histogram_bin,
    quantile,
    track_increment,
)
from adserver.tracks import Track
from lambdas.tracker.store import DynamoTrackStore, InMemoryTrackStore
from tests.conftest import REGION, provision_template

HOUR = 1_717_779_600_000  # 2024-06-07 17:00 UTC


def person(start_ms=HOUR + 60_000, dwell_s=6.0, looking_s=2.0, band="adult", gender="female"):
    return Track(
        camera="demo-store/cam-1",
        started_at_ms=start_ms,
        ended_at_ms=start_ms + int(dwell_s * 1000),
        age_band=band,
        gender=gender,
        vote_confidence=0.9,
        seen=12,
        dwell_s=dwell_s,
        looking_s=looking_s,
    )


def play(display="d1", started_at_ms=HOUR + 120_000, bucket="adult/female"):
    return Impression("demo-store", display, "ad-1", None, bucket, started_at_ms, 8.0, HOUR)


@pytest.fixture
def tables(aws):
    """The template's tables on moto (tracks, impressions, rollups)."""
    stack = provision_template("rollups")
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    return {
        name: dynamodb.Table(stack.outputs[f"{name}TableName"])
        for name in ("Tracks", "Impressions", "Rollups")
    }


def test_a_person_is_one_count_in_their_camera_bucket_and_hour():
    # GIVEN a watcher who stayed 6 s and looked 2 s, and a passer-by who never looked
    rollups = InMemoryRollups()
    rollups.add(track_increment(person(), watcher_looking_s=1.0))
    rollups.add(track_increment(person(dwell_s=2.0, looking_s=0.0), watcher_looking_s=1.0))
    # WHEN the hour's record is read
    [record] = rollups.hours("demo-store", HOUR, HOUR + HOUR_MS)
    cell = Cell(cells_of(record)[("cam-1", bucket_name("adult", "female"))])
    # THEN it holds two people, one watcher and their dwell and looking histograms
    assert (cell.people, cell.watchers) == (2, 1)
    assert cell.dwell_bins[histogram_bin(6.0)] == cell.dwell_bins[histogram_bin(2.0)] == 1
    assert cell.looking_bins[0] == cell.looking_bins[histogram_bin(2.0)] == 1
    # AND the record is counts only: no time, box or id of either person
    assert set(record) == {"store", "hour", "hour_ms", "cells"}
    assert set(cells_of(record)) == {("cam-1", "adult/female")}


def test_quantiles_from_the_histogram_are_within_one_bin_of_the_exact_ones():
    rng = random.Random(7)
    durations = [rng.lognormvariate(1.5, 0.9) for _ in range(2000)]
    bins = [0] * (len(HISTOGRAM_EDGES_S) + 1)
    for seconds in durations:
        bins[histogram_bin(seconds)] += 1
    for q in (0.5, 0.9):
        exact = statistics.quantiles(durations, n=100)[int(q * 100) - 1]
        index = histogram_bin(exact)
        width = HISTOGRAM_EDGES_S[index] - HISTOGRAM_EDGES_S[index - 1]
        assert abs(quantile(bins, q) - exact) <= width


def test_quantile_of_people_who_never_looked_is_zero_and_of_nobody_none():
    assert quantile([5] + [0] * len(HISTOGRAM_EDGES_S), 0.5) == 0.0
    assert quantile([0] * (len(HISTOGRAM_EDGES_S) + 1), 0.5) is None


def test_a_track_written_again_by_a_retried_batch_is_counted_once(tables):
    # GIVEN the tracker's store writing people into the rollups
    rollups = DynamoRollups(tables["Rollups"])
    store = DynamoTrackStore(tables["Tracks"], rollups=rollups, watcher_looking_s=1.0)
    # WHEN the same person is written twice (a retried batch) and another once
    store.put_tracks("demo-store/cam-1", [person()])
    store.put_tracks("demo-store/cam-1", [person(), person(start_ms=HOUR + 90_000)])
    # THEN the hour counts two people, and both tracks are in the tracks table
    [record] = rollups.hours("demo-store", HOUR, HOUR + HOUR_MS)
    assert Cell(cells_of(record)[("cam-1", "adult/female")]).people == 2
    assert len(store.tracks("demo-store/cam-1", 0, HOUR + HOUR_MS)) == 2


def test_the_in_memory_track_store_counts_a_retried_track_once():
    rollups = InMemoryRollups()
    store = InMemoryTrackStore(rollups=rollups)
    store.put_tracks("demo-store/cam-1", [person()])
    store.put_tracks("demo-store/cam-1", [person()])
    [record] = rollups.hours("demo-store", HOUR, HOUR + HOUR_MS)
    assert Cell(cells_of(record)[("cam-1", "adult/female")]).people == 1


def test_a_play_is_counted_once_however_often_the_player_sends_it(tables):
    # GIVEN the impressions store writing plays into the rollups
    rollups = DynamoRollups(tables["Rollups"])
    impressions = DynamoImpressionStore(tables["Impressions"], rollups=rollups)
    # WHEN a player sends one play twice and a backlog of two more
    impressions.put(play())
    impressions.put(play())
    impressions.put_many([play(started_at_ms=HOUR + 200_000), play(display="d2")])
    # THEN the hour counts three plays on d1 and d2 together, 8 s each
    [record] = rollups.hours("demo-store", HOUR, HOUR + HOUR_MS)
    d1, d2 = (Cell(cells_of(record)[(d, "adult/female")]) for d in ("d1", "d2"))
    assert (d1.impressions, d1.play_s, d2.impressions) == (2, 16.0, 1)
    # AND the impressions and the play log are written as without rollups
    assert len(impressions.for_store("demo-store", HOUR, HOUR + HOUR_MS)) == 3
    assert len(impressions.recent_plays("demo-store", "d1", 0)) == 2


def test_hours_outside_the_range_are_not_read(tables):
    rollups = DynamoRollups(tables["Rollups"])
    for hour in range(5):
        rollups.add(track_increment(person(start_ms=HOUR + hour * HOUR_MS), 1.0))
    got = rollups.hours("demo-store", HOUR + HOUR_MS + 5, HOUR + 3 * HOUR_MS)
    assert [int(r["hour_ms"]) for r in got] == [HOUR + HOUR_MS, HOUR + 2 * HOUR_MS]


def test_writers_racing_for_one_hour_all_count(tables):
    # GIVEN two writers that read the hour's record before either writes
    rollups = DynamoRollups(tables["Rollups"])
    rollups.add(track_increment(person(), 1.0))
    table = tables["Rollups"]
    real_get = table.get_item
    stale = real_get(Key={"store": "demo-store", "hour": f"{HOUR:013d}"}, ConsistentRead=True)
    calls = []

    def first_read_is_stale(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            rollups_other.add(track_increment(person(start_ms=HOUR + 5), 1.0))  # wins the race
            return stale
        return real_get(**kwargs)

    rollups_other = DynamoRollups(boto3.resource("dynamodb", region_name=REGION).Table(table.name))
    table.get_item = first_read_is_stale
    # WHEN the slower one writes
    rollups.add(track_increment(person(start_ms=HOUR + 9), 1.0))
    # THEN it read again and all three people are counted
    table.get_item = real_get
    [record] = rollups.hours("demo-store", HOUR, HOUR + HOUR_MS)
    assert Cell(cells_of(record)[("cam-1", "adult/female")]).people == 3
    assert len(calls) == 2
