"""Store reports: people, watchers, dwell, attention and impressions per hour, read from the
hourly rollups (``adserver.rollups``), never from raw observations; adserver.report_chart
draws them.

People are tracks (opportunities to see: a person who stood in front of a camera for ten
seconds is one person, not twenty face sightings), counted in the hour they arrived;
watchers are those who looked at the screen for at least a second. ``impressions`` counts
plays (and ``play_s`` their seconds) by the audience bucket they were chosen for.

Small cells are suppressed so no row describes one identifiable person: a cell (an hour,
bucket or camera) with fewer than ``min_cell_count`` people shows no people, watchers or
durations, only its plays. The range's totals always give the integer counts of people,
watchers and impressions, and its dwell and looking quantiles when it holds enough people.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from itertools import zip_longest
from typing import Any
from zoneinfo import ZoneInfo

from adserver.catalog import ALL_BUCKETS, NO_AUDIENCE
from adserver.rollups import (
    AD_PLACE_PREFIX,
    DWELL_BINS,
    HISTOGRAM_EDGES_S,
    HOUR_MS,
    Cell,
    cells_of,
    hour_of,
    quantile,
)

# How a bucket reads to a person ("young_adult/female" is "Young adult, female").
NO_AUDIENCE_NAME = "Nobody in front"
# A report shows no cell (hour, day, bucket, camera) of fewer people than this.
DEFAULT_MIN_CELL_COUNT = 5
MAX_RANGE_MS = 31 * 24 * HOUR_MS
# Reports cover 1970 up to a day before Python's last date, so every hour of the range can
# be written in any store's time zone.
LATEST_MS = int(datetime(9999, 12, 30, tzinfo=UTC).timestamp() * 1000)


class ReportRangeError(ValueError):
    """A ``from``/``to`` pair we cannot report on; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def bucket_label(bucket: str) -> str:
    """A bucket as a store manager reads it: ``young_adult/female`` -> "Young adult, female"."""
    if bucket == NO_AUDIENCE:
        return NO_AUDIENCE_NAME
    band, _, gender = bucket.partition("/")
    words = band.replace("_", " ").capitalize()
    return f"{words}, {gender}" if gender else words


BUCKET_NAMES = {bucket: bucket_label(bucket) for bucket in (*ALL_BUCKETS, NO_AUDIENCE)}


def parse_instant(name: str, value: str | None) -> int:
    """Epoch milliseconds from an ISO 8601 time (with zone) or an integer of milliseconds
    (ASCII digits), between 1970 and the year 9999."""
    if not value:
        raise ReportRangeError(f"{name}: required (ISO 8601 time or epoch milliseconds)")
    shown = value if len(value) <= 40 else f"{value[:40]}..."
    if value.isascii() and value.isdigit():
        instant = int(value) if len(value) <= 18 else LATEST_MS + 1
    else:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ReportRangeError(f"{name}: not an ISO 8601 time: {shown!r}") from None
        if moment.tzinfo is None:
            raise ReportRangeError(f"{name}: needs a time zone, e.g. {shown}Z")
        instant = int(moment.timestamp() * 1000)
    if not 0 <= instant <= LATEST_MS:
        raise ReportRangeError(f"{name}: must be between 1970 and 9999, got {shown!r}")
    return instant


def store_midnight_ms(now_ms: int, time_zone: str) -> int:
    """The epoch milliseconds of the last midnight before ``now_ms`` on the store's clock."""
    local = datetime.fromtimestamp(now_ms / 1000, UTC).astimezone(ZoneInfo(time_zone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp() * 1000)


def report_range(from_value: str | None, to_value: str | None) -> tuple[int, int]:
    """Validate the ``from`` and ``to`` query parameters into a [from, to) range in ms."""
    from_ms, to_ms = parse_instant("from", from_value), parse_instant("to", to_value)
    if to_ms <= from_ms:
        raise ReportRangeError("to: must be after from")
    if to_ms - from_ms > MAX_RANGE_MS:
        raise ReportRangeError("to: the range may span at most 31 days")
    return from_ms, to_ms


def build_report(
    store: str,
    from_ms: int,
    to_ms: int,
    records: Iterable[Mapping[str, Any]],
    time_zone: str = "UTC",
    min_cell_count: int = DEFAULT_MIN_CELL_COUNT,
) -> dict[str, Any]:
    """The JSON report of [from, to) from the store's hourly rollup ``records``: one entry
    per hour (labelled in the store's zone), then totals and breakdowns by audience bucket,
    camera, display and ad (with the audience present during the plays). A rollup hour
    counts whole: ``from`` and ``to`` round out to hours."""
    zone = ZoneInfo(time_zone)
    by_hour = {int(record["hour_ms"]): cells_of(record) for record in records}
    # Each cell's counts hour by hour, summed column-wise once at the end (a month of a store
    # is some 35,000 of them: adding them one by one took most of the report's time).
    over_range: dict[tuple[str, str], list[list[float]]] = defaultdict(list)
    hours: list[dict[str, Any]] = []
    # Each store-local day's people, summed before suppression: a day's bars must not lose
    # the hours that were too small to show on their own.
    by_day: dict[str, Cell] = defaultdict(Cell)
    suppressed = 0
    for start in range(hour_of(from_ms), to_ms, HOUR_MS):
        by_bucket_now: dict[str, Cell] = defaultdict(Cell)
        for (place, bucket), counts in by_hour.get(start, {}).items():
            over_range[(place, bucket)].append(counts)
            if not place.startswith(AD_PLACE_PREFIX):  # a play's second count, by its ad
                by_bucket_now[bucket].add(counts[:DWELL_BINS])  # the hour needs no histograms
        hour_total = _summed(by_bucket_now.values())
        local_hour = datetime.fromtimestamp(start / 1000, UTC).astimezone(zone).isoformat()
        by_day[local_hour[:10]].add(hour_total.counts)
        row: dict[str, Any] = {
            "hour": local_hour,
            "people": None,
            "watchers": None,
            "impressions": {},
            "play_s": {},
            "audience": {},
            "audience_watchers": {},
        }
        if _shown(hour_total.people, min_cell_count):
            row["people"], row["watchers"] = hour_total.people, hour_total.watchers
        else:
            suppressed += 1
        for bucket, cell in sorted(by_bucket_now.items()):
            if cell.impressions:
                row["impressions"][bucket] = cell.impressions
                row["play_s"][bucket] = round(cell.play_s, 3)
            if not cell.people:
                continue
            if _shown(cell.people, min_cell_count):
                row["audience"][bucket] = cell.people
                row["audience_watchers"][bucket] = cell.watchers
            else:
                suppressed += 1
        hours.append(row)
    by_bucket: dict[str, list[Cell]] = defaultdict(list)
    by_camera: dict[str, list[Cell]] = defaultdict(list)
    by_display: dict[str, list[Cell]] = defaultdict(list)
    by_ad: dict[str, list[Cell]] = defaultdict(list)
    range_cells = {
        key: Cell([sum(column) for column in zip_longest(*rows, fillvalue=0)])
        for key, rows in over_range.items()
    }
    for (place, bucket), cell in list(range_cells.items()):
        if place.startswith(AD_PLACE_PREFIX):
            by_ad[place.removeprefix(AD_PLACE_PREFIX)].append(range_cells.pop((place, bucket)))
            continue
        by_bucket[bucket].append(cell)
        if cell.people:
            by_camera[place].append(cell)
        if cell.impressions:
            by_display[place].append(cell)
    totals = _summed(range_cells.values())
    bucket_cells = {bucket: _summed(cells) for bucket, cells in by_bucket.items()}
    camera_cells = {camera: _summed(cells) for camera, cells in by_camera.items()}
    display_cells = {display: _summed(cells) for display, cells in by_display.items()}
    buckets = {
        bucket: _figures(cell, min_cell_count) for bucket, cell in sorted(bucket_cells.items())
    }
    cameras = {
        camera: _figures(cell, min_cell_count) for camera, cell in sorted(camera_cells.items())
    }
    for figures in cameras.values():
        del figures["impressions"], figures["play_s"]  # plays belong to displays
    shown = [
        _shown(c.people, min_cell_count)
        for c in (*bucket_cells.values(), *camera_cells.values(), *by_day.values())
    ]
    suppressed += shown.count(False)
    return {
        "store": store,
        "from": _iso(from_ms),
        "to": _iso(to_ms),
        "time_zone": time_zone,
        "min_cell_count": min_cell_count,
        "totals": {
            "people": totals.people,
            "watchers": totals.watchers,
            "impressions": totals.impressions,
            "play_s": round(totals.play_s, 3),
            **_durations(totals, min_cell_count),
            "distributions": _distributions(totals, min_cell_count),
        },
        "hours": hours,
        "days": [_day(day, cell, min_cell_count) for day, cell in by_day.items()],
        "bucket_names": BUCKET_NAMES,
        "by_bucket": buckets,
        "by_camera": cameras,
        "by_display": {
            display: _plays(cell, min_cell_count) for display, cell in sorted(display_cells.items())
        },
        "by_ad": {
            ad: _plays(_summed(cells), min_cell_count) for ad, cells in sorted(by_ad.items())
        },
        "suppressed_cells": suppressed,
    }


def _day(day: str, cell: Cell, min_cell_count: int) -> dict[str, Any]:
    """One store-local day: its people and watchers (when enough to show) and its plays."""
    shown = _shown(cell.people, min_cell_count)
    return {
        "day": day,
        "people": cell.people if shown else None,
        "watchers": cell.watchers if shown else None,
        "impressions": cell.impressions,
    }


def _plays(cell: Cell, min_cell_count: int) -> dict[str, Any]:
    """A display's or an ad's plays and the audience present while they played: people and
    watchers summed over the plays, and people per play (shown when enough were present)."""
    figures: dict[str, Any] = {
        "impressions": cell.impressions,
        "play_s": round(cell.play_s, 3),
        "audience_people": None,
        "audience_watchers": None,
        "people_per_play": None,
    }
    if cell.impressions and _shown(cell.play_people, min_cell_count):
        figures.update(
            audience_people=cell.play_people,
            audience_watchers=cell.play_watchers,
            people_per_play=round(cell.play_people / cell.impressions, 2),
        )
    return figures


def _distributions(cell: Cell, min_cell_count: int) -> dict[str, Any] | None:
    """How many people dwelt and looked for how long: the histograms' counts per bin, the
    first bin being exactly 0 s and bin i up to ``edges_s[i]`` (the last: beyond it)."""
    if cell.people < max(1, min_cell_count):
        return None
    return {
        "edges_s": list(HISTOGRAM_EDGES_S),
        "dwell": cell.dwell_bins,
        "looking": cell.looking_bins,
    }


def _summed(cells: Iterable[Cell]) -> Cell:
    total = Cell()
    for cell in cells:
        total.add(cell.counts)
    return total


def _shown(people: int, min_cell_count: int) -> bool:
    """Whether a cell of ``people`` may be shown (an empty one says nothing about anyone)."""
    return people == 0 or people >= min_cell_count


def _durations(cell: Cell, min_cell_count: int) -> dict[str, Any]:
    if cell.people < max(1, min_cell_count):
        return {"dwell_s": None, "looking_s": None}
    return {
        "dwell_s": {
            "median": quantile(cell.dwell_bins, 0.5),
            "p90": quantile(cell.dwell_bins, 0.9),
        },
        "looking_s": {
            "median": quantile(cell.looking_bins, 0.5),
            "p90": quantile(cell.looking_bins, 0.9),
        },
    }


def _figures(cell: Cell, min_cell_count: int) -> dict[str, Any]:
    """A bucket's or camera's figures; people, watchers and durations only if shown."""
    figures: dict[str, Any] = {"impressions": cell.impressions, "play_s": round(cell.play_s, 3)}
    if _shown(cell.people, min_cell_count):
        figures.update(
            people=cell.people, watchers=cell.watchers, **_durations(cell, min_cell_count)
        )
    else:
        figures.update(people=None, watchers=None, dwell_s=None, looking_s=None)
    return figures


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")
