"""Store report: per-hour impressions and audience by bucket (the chart: test_report_chart)."""

from __future__ import annotations

import pytest

from adserver.impressions import Impression
from adserver.reports import ReportRangeError, build_report, report_range

# 2024-06-07 17:00 UTC = 18:00 in London
T0 = 1_717_779_600_000
HOUR = 3_600_000


def played(minute: int, bucket: str, duration_s: float = 8.0) -> Impression:
    start = T0 + minute * 60_000
    return Impression("demo-store", "d1", "x", None, bucket, start, duration_s, start)


def seen(minute: int, *buckets: tuple[str, str], status: str = "ok") -> dict:
    faces = [
        {
            "box": [0, 0, 50, 50],
            "score": 0.9,
            "age": 40,
            "age_band": band,
            "gender": gender,
            "gender_confidence": 0.9,
        }
        for band, gender in buckets
    ]
    return {"captured_at_ms": T0 + minute * 60_000, "status": status, "faces": faces}


def test_report_counts_by_hour_and_bucket() -> None:
    # GIVEN plays and sightings over two hours, plus one play after the range
    impressions = [
        played(5, "senior/female"),
        played(10, "senior/female", 4),
        played(70, "none", 10),
        played(130, "adult/male"),
    ]
    observations = [
        seen(5, ("senior", "female")),
        seen(6, ("senior", "female"), ("adult", "male")),
        seen(7, ("teen", "male"), status="rejected"),
        seen(65),
    ]
    # WHEN the report covers [17:00, 19:00) UTC in London time
    report = build_report(
        "demo-store", T0, T0 + 2 * HOUR, impressions, observations, "Europe/London"
    )
    # THEN there are two hourly rows labelled in local time with the counts
    assert [row["hour"] for row in report["hours"]] == [
        "2024-06-07T18:00:00+01:00",
        "2024-06-07T19:00:00+01:00",
    ]
    first, second = report["hours"]
    assert first["impressions"] == {"senior/female": 2}
    assert first["play_s"] == {"senior/female": 12.0}
    assert first["audience"] == {"senior/female": 2, "adult/male": 1}
    assert second == {
        "hour": "2024-06-07T19:00:00+01:00",
        "impressions": {"none": 1},
        "play_s": {"none": 10.0},
        "audience": {},
    }
    assert report["totals"]["impressions"] == {"senior/female": 2, "none": 1}
    assert (report["from"], report["to"]) == ("2024-06-07T17:00:00Z", "2024-06-07T19:00:00Z")


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
