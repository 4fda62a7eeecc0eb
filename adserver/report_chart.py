"""The store report as an SVG chart, written here so the ad-server function needs no
plotting library (matplotlib, numpy and fontTools were most of its 192 MB bundle).

Two panels share the time axis: impressions by the audience bucket they were chosen for,
and people (tracks, not face sightings) by bucket, each a stack of bars per hour (per day
beyond two days) with one legend naming the buckets as a person would ("Young adult, female").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any

from adserver.catalog import ALL_BUCKETS, NO_AUDIENCE
from adserver.reports import bucket_label

# Eleven distinguishable colours, one per bucket in ALL_BUCKETS order, then "none" in grey.
BUCKET_COLOURS = (
    "#1f77b4",
    "#aec7e8",
    "#ff7f0e",
    "#ffbb78",
    "#2ca02c",
    "#98df8a",
    "#d62728",
    "#ff9896",
    "#9467bd",
    "#c5b0d5",
    "#7f7f7f",
)
PANELS = (
    ("impressions", "Impressions by audience bucket"),
    ("audience", "People (opportunities to see) by bucket; cells under the minimum left out"),
)
# Layout in SVG user units (pixels at 100 %).
BAR_PITCH = 32
MARGIN_LEFT, MARGIN_TOP, LEGEND_WIDTH = 60, 56, 150
PANEL_HEIGHT, PANEL_GAP, AXIS_LABELS_HEIGHT = 220, 50, 90
# A month is 744 hours: past this width bars narrow instead of the chart growing, and the
# hour labels thin out to every 2nd, 3rd, ... 24th hour.
MIN_PLOT_WIDTH, MAX_PLOT_WIDTH = 360, 1200
MIN_LABEL_PITCH = 12
DATE_LABEL_WIDTH = 64  # "2024-06-07" at 10 px
LABEL_STEPS = (1, 2, 3, 4, 6, 12, 24, 48, 72, 96, 168)
# Beyond two days an hour's bar is a sliver: the chart shows a bar per day instead.
DAILY_AFTER_HOURS = 48


def render_svg(report: Mapping[str, Any]) -> str:
    """Two stacked bar charts of ``report`` (from ``build_report``), as SVG text: a bar per
    hour for up to two days, a bar per day (on the store's clock) beyond."""
    hours: Sequence[Mapping[str, Any]] = report["hours"]
    columns = _days(hours) if len(hours) > DAILY_AFTER_HOURS else _hours(hours)
    buckets = [b for b in (*ALL_BUCKETS, NO_AUDIENCE) if _seen(report, b)]
    colour = dict(zip((*ALL_BUCKETS, NO_AUDIENCE), BUCKET_COLOURS, strict=True))
    plot_width = min(MAX_PLOT_WIDTH, max(MIN_PLOT_WIDTH, BAR_PITCH * len(columns)))
    pitch = plot_width / max(1, len(columns))
    width = MARGIN_LEFT + plot_width + LEGEND_WIDTH
    height = MARGIN_TOP + 2 * PANEL_HEIGHT + PANEL_GAP + AXIS_LABELS_HEIGHT
    title = f"{report['store']}: {report['from']} to {report['to']}"
    totals = report["totals"]
    summary = (
        f"people {totals['people']}, watchers {totals['watchers']},"
        f" impressions {totals['impressions']}"
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" '
        f'viewBox="0 0 {width:.0f} {height}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{width:.0f}" height="{height}" fill="#fff"/>',
        f'<text x="{width / 2:.0f}" y="18" text-anchor="middle" font-size="13">'
        f"{escape(title)}</text>",
        f'<text x="{width / 2:.0f}" y="32" text-anchor="middle">Totals: {escape(summary)}</text>',
    ]
    for panel, (field, panel_title) in enumerate(PANELS):
        top = MARGIN_TOP + panel * (PANEL_HEIGHT + PANEL_GAP)
        parts += _panel(columns, field, panel_title, buckets, colour, top, plot_width, pitch)
    axis_y = MARGIN_TOP + 2 * PANEL_HEIGHT + PANEL_GAP
    every = next((n for n in LABEL_STEPS if n * pitch >= MIN_LABEL_PITCH), LABEL_STEPS[-1])
    days_every, day = max(1, math.ceil(DATE_LABEL_WIDTH / (24 * pitch))), 0
    for index, column in enumerate(columns):
        x = MARGIN_LEFT + (index + 0.5) * pitch
        if index % every == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{axis_y + 8}" font-size="9" text-anchor="end" '
                f'transform="rotate(-90 {x:.1f} {axis_y + 8})" dy="3">'
                f"{escape(column.label)}</text>"
            )
        if column.starts_day and not column.daily:  # each day of hours starts with a tick
            left = MARGIN_LEFT + index * pitch
            parts.append(
                f'<line x1="{left:.1f}" y1="{axis_y}" x2="{left:.1f}" y2="{axis_y + 52}" '
                f'stroke="#999"/>'
            )
            if day % days_every == 0:  # and with its date, where dates do not overlap
                parts.append(
                    f'<text x="{left + 2:.1f}" y="{axis_y + 50}" font-size="10">'
                    f"{escape(column.key[:10])}</text>"
                )
            day += 1
    dates = f"{hours[0]['hour'][:10]} to {hours[-1]['hour'][:10]}" if hours else ""
    unit = "day" if columns and columns[0].daily else "hour"
    parts.append(
        f'<text x="{MARGIN_LEFT + plot_width / 2:.0f}" y="{height - 6}" text-anchor="middle">'
        f"{unit} ({escape(str(report['time_zone']))}), {escape(dates)}</text>"
    )
    legend_x = MARGIN_LEFT + plot_width + 16
    for index, bucket in enumerate(buckets):
        y = MARGIN_TOP + index * 18
        parts.append(
            f'<rect x="{legend_x}" y="{y}" width="12" height="12" fill="{colour[bucket]}"/>'
            f'<text x="{legend_x + 18}" y="{y + 10}">{escape(bucket_label(bucket))}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


@dataclass(frozen=True)
class Column:
    """One bar of each panel: an hour or a day, and its counts by field and bucket."""

    key: str  # the hour's or the day's ISO text, on the store's clock
    label: str  # what the axis says: "17:00", or "Fri 7 Jun"
    counts: Mapping[str, Mapping[str, float]]
    starts_day: bool = False
    daily: bool = False


def _hours(hours: Sequence[Mapping[str, Any]]) -> list[Column]:
    return [
        Column(
            row["hour"],
            row["hour"][11:16],
            {field: row[field] for field, _ in PANELS},
            starts_day=index == 0 or row["hour"][11:13] == "00",
        )
        for index, row in enumerate(hours)
    ]


def _days(hours: Sequence[Mapping[str, Any]]) -> list[Column]:
    """The hours summed into the store's days (its hours carry the store's offset)."""
    days: dict[str, dict[str, dict[str, float]]] = {}
    for row in hours:
        day = days.setdefault(row["hour"][:10], {field: {} for field, _ in PANELS})
        for field, _ in PANELS:
            for bucket, value in row[field].items():
                day[field][bucket] = day[field].get(bucket, 0.0) + float(value)
    return [
        Column(key, _day_label(key), counts, starts_day=True, daily=True)
        for key, counts in days.items()
    ]


def _day_label(iso_day: str) -> str:
    moment = date.fromisoformat(iso_day)
    return f"{moment:%a} {moment.day} {moment:%b}"


def _panel(
    columns: Sequence[Column],
    field: str,
    title: str,
    buckets: Sequence[str],
    colour: Mapping[str, str],
    top: float,
    plot_width: float,
    pitch: float,
) -> list[str]:
    """One panel: its frame, y-axis ticks and a stacked bar per column."""
    totals = [sum(float(column.counts[field].get(b, 0)) for b in buckets) for column in columns]
    scale_max = _nice_ceiling(max(totals, default=0.0))
    bottom_y = top + PANEL_HEIGHT
    parts = [
        f'<text x="{MARGIN_LEFT + plot_width / 2:.0f}" y="{top - 6}" text-anchor="middle">'
        f"{escape(title)}</text>",
        f'<rect x="{MARGIN_LEFT}" y="{top}" width="{plot_width:.0f}" height="{PANEL_HEIGHT}" '
        'fill="none" stroke="#333"/>',
        f'<text x="14" y="{top + PANEL_HEIGHT / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + PANEL_HEIGHT / 2:.0f})">count</text>',
    ]
    for step in range(5):
        value = scale_max * step / 4
        y = bottom_y - PANEL_HEIGHT * step / 4
        parts.append(
            f'<line x1="{MARGIN_LEFT - 4}" y1="{y:.1f}" x2="{MARGIN_LEFT}" y2="{y:.1f}" '
            f'stroke="#333"/><text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{value:g}</text>'
        )
    for index, column in enumerate(columns):
        stacked = 0.0
        for bucket in buckets:
            value = float(column.counts[field].get(bucket, 0))
            if value <= 0:
                continue
            bar_height = PANEL_HEIGHT * value / scale_max
            y = bottom_y - PANEL_HEIGHT * stacked / scale_max - bar_height
            parts.append(
                f'<rect x="{MARGIN_LEFT + index * pitch + pitch * 0.1:.1f}" y="{y:.1f}" '
                f'width="{pitch * 0.8:.1f}" height="{bar_height:.1f}" '
                f'fill="{colour[bucket]}"><title>{escape(column.key)} '
                f"{escape(bucket_label(bucket))}: {value:g}</title></rect>"
            )
            stacked += value
    return parts


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 4, 8 x 10^k at or above ``value`` (1 for an empty chart), so
    the four tick steps are round numbers."""
    if value <= 0:
        return 1.0
    magnitude = 1.0
    while magnitude * 10 < value:
        magnitude *= 10
    while magnitude > value:
        magnitude /= 10
    for factor in (1, 2, 4, 8, 10):
        if factor * magnitude >= value:
            return factor * magnitude
    return 10 * magnitude


def _seen(report: Mapping[str, Any], bucket: str) -> bool:
    figures = report["by_bucket"].get(bucket, {})
    return bool(figures.get("impressions") or figures.get("people"))
