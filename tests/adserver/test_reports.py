"""Store report from the hourly rollups: people, watchers, plays, small cells suppressed."""

from __future__ import annotations

import pytest

from adserver.impressions import Impression
from adserver.reports import ReportRangeError, build_report, report_range, store_midnight_ms
from adserver.tracks import Track
from tests.fakes import rollup_records

# 2024-06-07 17:00 UTC = 18:00 in London
T0 = 1_717_779_600_000
HOUR = 3_600_000


def played(minute: int, bucket: str, duration_s: float = 8.0) -> Impression:
    start = T0 + minute * 60_000
    return Impression("demo-store", "d1", "x", None, bucket, start, duration_s, start)


def person(minute: int, band: str, gender: str, dwell_s: float, looking_s: float) -> Track:
    start = T0 + minute * 60_000
    return Track(
        "demo-store/cam-1",
        start,
        start + int(dwell_s * 1000),
        band,
        gender,
        0.9,
        9,
        dwell_s,
        looking_s,
    )


def crowd(minute: int, count: int, band: str = "senior", gender: str = "female") -> list[Track]:
    """``count`` people of one bucket, dwelling 2..(count+1) s, every other one a watcher."""
    return [person(minute, band, gender, 2.0 + i, 1.5 * (i % 2)) for i in range(count)]


def test_report_counts_people_watchers_and_plays_by_hour_and_bucket() -> None:
    # GIVEN plays over two hours and one after the range; six senior women in the first
    # hour (three watchers) and two adult men, who are too few to show on their own
    impressions = [
        played(5, "senior/female"),
        played(10, "senior/female", 4),
        played(70, "none", 10),
        played(130, "adult/male"),
    ]
    tracks = [*crowd(5, 6), *crowd(6, 2, "adult", "male")]
    records = rollup_records(impressions, tracks)
    # WHEN the report covers [17:00, 19:00) UTC in London time
    report = build_report("demo-store", T0, T0 + 2 * HOUR, records, "Europe/London")
    # THEN there are two hourly rows labelled in local time with the counts
    assert [row["hour"] for row in report["hours"]] == [
        "2024-06-07T18:00:00+01:00",
        "2024-06-07T19:00:00+01:00",
    ]
    first, second = report["hours"]
    assert first["impressions"] == {"senior/female": 2}
    assert first["play_s"] == {"senior/female": 12.0}
    assert (first["people"], first["watchers"]) == (8, 4)
    assert first["audience"] == {"senior/female": 6}  # the two men are suppressed
    assert first["audience_watchers"] == {"senior/female": 3}
    assert second["impressions"] == {"none": 1} and second["people"] == 0
    # AND the totals are integers over the range, the late play left out
    totals = report["totals"]
    assert (totals["people"], totals["watchers"], totals["impressions"]) == (8, 4, 3)
    assert report["by_display"]["d1"]["impressions"] == 3
    assert report["by_display"]["d1"]["play_s"] == 22.0
    assert report["by_ad"]["x"]["impressions"] == 3  # the same plays, by ad
    assert report["by_bucket"]["adult/male"]["people"] is None
    assert report["suppressed_cells"] == 2  # the men's hour cell and their bucket
    assert (report["from"], report["to"]) == ("2024-06-07T17:00:00Z", "2024-06-07T19:00:00Z")


def test_dwell_and_looking_quantiles_come_with_enough_people() -> None:
    # GIVEN six people dwelling 2..7 s
    report = build_report("s", T0, T0 + HOUR, rollup_records(tracks=crowd(1, 6)))
    # THEN the medians and p90s lie in the right histogram bins
    dwell = report["totals"]["dwell_s"]
    assert 3.0 <= dwell["median"] <= 5.0 and 5.0 <= dwell["p90"] <= 8.0
    assert 0.0 <= report["totals"]["looking_s"]["median"] <= 2.0
    assert report["by_camera"]["cam-1"]["people"] == 6
    spread = report["totals"]["distributions"]
    assert sum(spread["dwell"]) == sum(spread["looking"]) == 6
    assert len(spread["dwell"]) == len(spread["edges_s"]) + 1


def test_the_minimum_cell_count_is_a_setting() -> None:
    records = rollup_records(tracks=crowd(1, 3))
    assert build_report("s", T0, T0 + HOUR, records, min_cell_count=5)["hours"][0]["people"] is None
    shown = build_report("s", T0, T0 + HOUR, records, min_cell_count=3)
    assert shown["hours"][0]["people"] == 3 and shown["suppressed_cells"] == 0
    # AND the range's totals are counts whatever the setting, without durations
    hidden = build_report("s", T0, T0 + HOUR, records, min_cell_count=5)
    assert hidden["totals"]["people"] == 3 and hidden["totals"]["dwell_s"] is None
    assert hidden["totals"]["distributions"] is None


def test_range_accepts_iso_and_milliseconds() -> None:
    assert report_range("2024-06-07T17:00:00Z", str(T0 + HOUR)) == (T0, T0 + HOUR)
    assert report_range("2024-06-07T18:00:00+01:00", "2024-06-07T19:00:00+01:00") == (T0, T0 + HOUR)


@pytest.mark.parametrize(
    ("start", "end", "reason"),
    [
        (None, "2024-06-07T18:00:00Z", "from: required"),
        ("yesterday", "2024-06-07T18:00:00Z", "from: not an ISO 8601 time"),
        ("2024-06-07T17:00:00", "2024-06-07T18:00:00Z", "from: needs a time zone"),
        ("2024-06-07T18:00:00Z", "2024-06-07T17:00:00Z", "to: must be after from"),
        ("2024-01-01T00:00:00Z", "2024-03-01T00:00:00Z", "to: the range may span at most 31 days"),
    ],
)
def test_bad_ranges_say_why(start: str | None, end: str, reason: str) -> None:
    with pytest.raises(ReportRangeError) as exc:
        report_range(start, end)
    assert exc.value.reason.startswith(reason)


def test_days_keep_the_people_of_hours_too_small_to_show() -> None:
    # GIVEN three people at 18:00 and three at 19:00 (London), each hour too few to show,
    # and four people the next day
    tracks = [*crowd(0, 3), *crowd(60, 3), *crowd(24 * 60, 4)]
    # WHEN the two days are reported in the store's zone
    report = build_report("s", T0, T0 + 30 * HOUR, rollup_records(tracks=tracks), "Europe/London")
    # THEN both hours are hidden, but their day shows its six people; the next day's four not
    assert report["hours"][0]["people"] is None and report["hours"][1]["people"] is None
    assert [(d["day"], d["people"]) for d in report["days"]] == [
        ("2024-06-07", 6),
        ("2024-06-08", None),
    ]
    # AND buckets have names a person reads
    assert report["bucket_names"]["young_adult/female"] == "Young adult, female"
    assert report["bucket_names"]["none"] == "Nobody in front"


def test_the_store_midnight_is_on_the_store_clock() -> None:
    # 2024-06-07 17:00 UTC is 18:00 in London, whose midnight was 23:00 UTC the day before
    assert store_midnight_ms(T0, "Europe/London") == T0 - 18 * HOUR
    assert store_midnight_ms(T0, "UTC") == T0 - 17 * HOUR
