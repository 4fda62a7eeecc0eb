"""Store reports: impressions and audience by bucket per hour (adserver.report_chart draws them).

``impressions`` counts plays (and ``play_s`` their seconds) by the audience
bucket they were chosen for. ``audience`` counts face sightings by bucket in
the store's observations: one person seen in ten frames is ten sightings, so
it measures attention over time rather than distinct people.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from adserver.catalog import bucket_name
from adserver.impressions import Impression

HOUR_MS = 3_600_000
MAX_RANGE_MS = 31 * 24 * HOUR_MS
# Reports cover 1970 up to a day before Python's last date, so every hour of the range can
# be written in any store's time zone.
LATEST_MS = int(datetime(9999, 12, 30, tzinfo=UTC).timestamp() * 1000)


class ReportRangeError(ValueError):
    """A ``from``/``to`` pair we cannot report on; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
    impressions: Iterable[Impression],
    observations: Iterable[Mapping[str, Any]],
    time_zone: str = "UTC",
) -> dict[str, Any]:
    """The JSON report: one entry per hour in [from, to), hours labelled in the store's zone."""
    zone = ZoneInfo(time_zone)
    first_hour = from_ms - from_ms % HOUR_MS
    hours: dict[int, dict[str, Any]] = {
        start: {
            "hour": datetime.fromtimestamp(start / 1000, UTC).astimezone(zone).isoformat(),
            "impressions": {},
            "play_s": {},
            "audience": {},
        }
        for start in range(first_hour, to_ms, HOUR_MS)
    }

    def add(row: dict[str, Any], field: str, bucket: str, amount: float) -> None:
        row[field][bucket] = row[field].get(bucket, 0) + amount

    for impression in impressions:
        if from_ms <= impression.started_at_ms < to_ms:
            row = hours[impression.started_at_ms - impression.started_at_ms % HOUR_MS]
            add(row, "impressions", impression.bucket, 1)
            add(row, "play_s", impression.bucket, impression.duration_s)
    for observation in observations:
        captured = int(observation["captured_at_ms"])
        if observation.get("status") != "ok" or not from_ms <= captured < to_ms:
            continue
        row = hours[captured - captured % HOUR_MS]
        for face in observation.get("faces") or []:
            add(row, "audience", bucket_name(face["age_band"], face["gender"]), 1)

    totals: dict[str, dict[str, float]] = {"impressions": {}, "play_s": {}, "audience": {}}
    for row in hours.values():
        for field, counts in totals.items():
            for bucket, amount in row[field].items():
                counts[bucket] = counts.get(bucket, 0) + amount
    return {
        "store": store,
        "from": _iso(from_ms),
        "to": _iso(to_ms),
        "time_zone": time_zone,
        "hours": list(hours.values()),
        "totals": totals,
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")
