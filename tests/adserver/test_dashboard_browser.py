"""The store dashboard in headless chromium against the ad server, with rollups of a day and
of a month.

The page takes the operator token from its URL fragment, reads who is in view now and the
report of its range, and draws every chart as SVG: each must have a title, a legend and an
axis naming the dates it covers, and no two of its labels may overlap, at 390, 1280 and
1920 px; a day is drawn hour by hour with hour labels, a month day by day; the CSV export
holds one row per hour. Screenshots are written to $DASHBOARD_SHOTS when it is set.
"""

from __future__ import annotations

import csv
import io
import os
import random
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from adserver.catalog import ALL_BUCKETS
from adserver.impressions import Impression
from adserver.rollups import track_increment
from adserver.tracks import Track
from tests.adserver.browser import chromium_page, hex_colour
from tests.adserver.live_server import TOKENS, LiveServer, live_server

MONTH_START_MS = 1_761_955_200_000  # Saturday 2025-11-01 00:00 UTC (and Europe/London)
DAY_MS = 24 * 3_600_000
HOUR_MS = 3_600_000
ONE_DAY = "from=2025-11-23&to=2025-11-23"  # a Sunday
THIRTY_DAYS = "from=2025-11-01&to=2025-11-30"
PEOPLE_BLUE = hex_colour("#1f77b4")
CHARTS = (
    "people-over-time",
    "people-by-bucket",
    "impressions-by-bucket",
    "durations-by-bucket",
    "by-place",
    "audience-by-ad",
    "duration-distributions",
)

# Every text of every chart, as boxes on the page; the pairs that overlap by over half a pixel.
OVERLAPS_JS = """() => {
  const found = [];
  for (const svg of document.querySelectorAll("#charts svg")) {
    const texts = [...svg.querySelectorAll("text")].filter((t) => t.textContent.trim());
    const boxes = texts.map((t) => [t, t.getBoundingClientRect()]);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, p] = boxes[i], [b, q] = boxes[j];
        const x = Math.min(p.right, q.right) - Math.max(p.left, q.left);
        const y = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
        if (x > 0.5 && y > 0.5) {
          found.push(`${svg.parentNode.parentNode.id}: "${a.textContent}" on "${b.textContent}"`);
        }
      }
    }
    const frame = svg.getBoundingClientRect();
    for (const [t, box] of boxes) {
      if (box.left < frame.left - 0.5 || box.right > frame.right + 0.5) {
        found.push(`${svg.parentNode.parentNode.id}: "${t.textContent}" outside its chart`);
      }
    }
  }
  return found;
}"""


def audience(server: LiveServer, first_day_ms: int, days: int) -> int:
    """People at demo-cam-1 and plays on demo-display-1, 09:00-20:00 each day; how many people."""
    rng = random.Random(3)
    people = 0
    for day in range(days):
        for hour in range(9, 21):
            start = first_day_ms + day * DAY_MS + hour * HOUR_MS
            for _ in range(rng.randint(5, 25)):
                band, gender = rng.choice(ALL_BUCKETS[4:]).split("/")
                at = start + rng.randrange(HOUR_MS)
                dwell, looking = rng.uniform(1, 30), rng.choice([0.0, rng.uniform(0.5, 8)])
                track = Track("demo-store/demo-cam-1", at, at + int(dwell * 1000), band,
                              gender, 0.9, 10, dwell, looking)  # fmt: skip
                server.rollups.add(track_increment(track, 1.0))
                people += 1
            for minute in range(0, 60, 6):
                at = start + minute * 60_000
                bucket = rng.choice(ALL_BUCKETS[4:])
                play = Impression("demo-store", "demo-display-1", "x", None, bucket, at, 8.0, at)
                server.rollups.add(play.rollup_increment())
    return people


def share_of(png: bytes, colour: tuple[int, int, int]) -> float:
    """The share of the screenshot's pixels within 8 levels of ``colour``."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    counts = image.getcolors(maxcolors=image.width * image.height) or []
    near = sum(n for n, c in counts if all(abs(a - b) <= 8 for a, b in zip(c, colour, strict=True)))
    return near / (image.width * image.height)


def open_dashboard(page: Any, server: LiveServer, token: str, fragment: str = "") -> None:
    page.goto(f"{server.url}/stores/demo-store/dashboard#token={token}&{fragment}")
    page.wait_for_selector("body[data-state='ready'], body[data-state='error']", timeout=15_000)


def screenshot(page: Any, tmp_path: Path, name: str) -> bytes:
    folder = Path(os.environ.get("DASHBOARD_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    return shot.read_bytes()


@pytest.mark.parametrize("width", [390, 1280, 1920])
def test_one_day_is_drawn_by_the_hour_with_hour_labels_none_overlapping(
    width: int, tmp_path: Path
) -> None:
    with live_server() as server, chromium_page(width, 900) as page:
        # GIVEN a day of people and plays
        people = audience(server, MONTH_START_MS + 22 * DAY_MS, 1)
        # WHEN the operator opens the dashboard on that day
        open_dashboard(page, server, TOKENS["operator"], ONE_DAY)
        assert page.get_attribute("body", "data-state") == "ready"
        # THEN the totals show the day's people, with no comparison to an empty period
        assert f"{people:,}" in page.inner_text("#totals")
        assert "previous period 0" not in page.inner_text("#totals")
        # AND the day is 24 hourly bars per series, labelled by the hour, the noon one too
        assert page.locator("#people-over-time g.bars rect").count() == 2 * 24
        hours = page.locator("#people-over-time g.x-axis text.tick").all_text_contents()
        assert len(hours) >= 4 and "12:00" in hours
        assert all(len(h) == 5 and h.endswith(":00") for h in hours), hours
        axis_title = page.locator("#people-over-time text.axis-title").text_content() or ""
        assert "Sun 23 Nov 2025" in axis_title
        # AND buckets are named as a person would say them
        buckets = page.locator("#people-by-bucket g.y-axis text").all_text_contents()
        assert "Young adult, female" in buckets and not any("/" in b for b in buckets)
        # AND no label touches another or leaves its chart, nothing is wider than the screen
        assert page.evaluate(OVERLAPS_JS) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        png = screenshot(page, tmp_path, f"dashboard-1-day-{width}")
        assert share_of(png, PEOPLE_BLUE) > 0.002


@pytest.mark.parametrize("width", [390, 1280, 1920])
def test_thirty_days_are_drawn_by_the_day_with_every_chart_labelled(
    width: int, tmp_path: Path
) -> None:
    with live_server() as server, chromium_page(width, 900) as page:
        # GIVEN thirty days of people and plays
        people = audience(server, MONTH_START_MS, 30)
        # WHEN the operator opens the dashboard on those days
        open_dashboard(page, server, TOKENS["operator"], THIRTY_DAYS)
        assert page.get_attribute("body", "data-state") == "ready"
        assert f"{people:,}" in page.inner_text("#totals")
        # THEN the month is one bar per day and series, labels thinned to whole days
        assert page.locator("#people-over-time g.bars rect").count() == 2 * 30
        days = page.locator("#people-over-time g.x-axis text.tick").all_text_contents()
        assert days[0] in ("Sat 1 Nov", "1 Nov") and len(days) >= 4  # "1 Nov" on a phone
        # AND every chart has a title, a legend and an axis naming the dates
        for chart in (*CHARTS, "people-by-weekday"):
            svg = page.locator(f"#{chart} svg")
            assert svg.count() == 1, chart
            assert svg.locator("title").first.text_content(), chart
            legend = svg.locator("g.legend text").all_text_contents()
            assert legend and all(legend), chart
            axis_title = svg.locator("text.axis-title").text_content() or ""
            assert "Sat 1 Nov to Sun 30 Nov 2025" in axis_title, (chart, axis_title)
        # AND no label touches another or leaves its chart
        assert page.evaluate(OVERLAPS_JS) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        png = screenshot(page, tmp_path, f"dashboard-30-days-{width}")
        assert Image.open(io.BytesIO(png)).size[0] == width
        assert share_of(png, (255, 255, 255)) > 0.5
        assert share_of(png, PEOPLE_BLUE) > 0.002


def test_the_range_buttons_change_the_range_and_keep_it_in_the_link() -> None:
    with live_server() as server, chromium_page(1280, 900) as page:
        # GIVEN the dashboard on today (the default)
        open_dashboard(page, server, TOKENS["operator"])
        assert page.get_attribute("#ranges button[data-range=today]", "aria-pressed") == "true"
        assert page.locator("#people-over-time g.bars rect").count() in (46, 48, 50)
        # WHEN "Last 30 days" is pressed
        page.click("#ranges button[data-range='30d']")
        page.wait_for_selector("#people-over-time figcaption:text('by day')")
        # THEN the chart is daily, the link keeps the range and the token
        assert page.locator("#people-over-time g.bars rect").count() == 2 * 30
        assert "range=30d" in page.url and f"token={TOKENS['operator']}" in page.url
        # WHEN custom dates are chosen THEN those days are shown
        page.click("#ranges button[data-range=custom]")
        page.fill("#custom-from", "2025-11-03")
        page.fill("#custom-to", "2025-11-09")
        page.click("#custom button[type=submit]")
        expect(page.locator("#people-over-time g.bars rect")).to_have_count(14)
        assert "Mon 3 Nov to Sun 9 Nov 2025" in page.inner_text("#range")


def test_right_now_shows_who_is_in_front_and_follows_them() -> None:
    with live_server() as server, chromium_page(1280, 900) as page:
        now_ms = time.time_ns() // 1_000_000
        track = {"started_at_ms": now_ms - 4000, "last_at_ms": now_ms, "seen": 5,
                 "last_looking": True}  # fmt: skip
        # GIVEN three people in front of demo-display-1's camera
        server.tracks.states["demo-store/demo-cam-1"] = {"open": [track, track, track]}
        # WHEN the operator opens the dashboard
        open_dashboard(page, server, TOKENS["operator"])
        # THEN it says three are in front of the display now
        card = page.locator("#now-cards [data-display='demo-display-1'] b")
        assert card.text_content() == "3"
        # WHEN they walk away THEN within a few seconds it says nobody
        server.tracks.states["demo-store/demo-cam-1"] = {"open": []}
        expect(card).to_have_text("0", timeout=12_000)  # (the page's CSP forbids eval)


def test_an_hour_too_small_to_show_is_said_to_be_blank() -> None:
    with live_server() as server, chromium_page(1280, 900) as page:
        # GIVEN three people in one hour of a day: too few to show on their own
        at = MONTH_START_MS + 22 * DAY_MS + 10 * HOUR_MS
        for index in range(3):
            track = Track("demo-store/demo-cam-1", at + index, at + 5000, "adult", "male",
                          0.9, 10, 5.0, 0.0)  # fmt: skip
            server.rollups.add(track_increment(track, 1.0))
        open_dashboard(page, server, TOKENS["operator"], ONE_DAY)
        # THEN the totals count them, and the empty chart says why it is empty
        assert "3" in page.inner_text("#totals")
        note = page.inner_text("#people-over-time .note")
        assert "fewer than 5 people are left blank" in note


def test_the_csv_has_one_row_per_hour(tmp_path: Path) -> None:
    with live_server() as server, chromium_page(1280, 900) as page:
        people = audience(server, MONTH_START_MS, 7)
        open_dashboard(page, server, TOKENS["operator"], "from=2025-11-01&to=2025-11-07")
        with page.expect_download() as download:
            page.click("#csv")
        rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
        assert rows[0][:4] == ["hour", "people", "watchers", "impressions"]
        assert len(rows) == 1 + 7 * 24
        assert sum(int(row[1] or 0) for row in rows[1:]) == people


def test_the_report_chart_opens_from_its_link() -> None:
    with live_server() as server, chromium_page(1280, 900) as page:
        audience(server, MONTH_START_MS, 2)
        open_dashboard(page, server, TOKENS["operator"], "from=2025-11-01&to=2025-11-02")
        # WHEN the dashboard's chart link is followed
        page.click("#chart-link")
        page.wait_for_selector("body[data-state='ready'], body[data-state='error']")
        # THEN the report's SVG is in the page, and offered as a file
        assert page.get_attribute("body", "data-state") == "ready"
        assert page.locator("#chart svg rect").count() > 10
        assert page.get_attribute("#download", "href", timeout=1000).startswith("blob:")


@pytest.mark.parametrize("token", ["", "wrong-token", TOKENS["demo-display-1"]])
def test_without_an_operator_token_the_page_says_so(token: str) -> None:
    with live_server() as server, chromium_page() as page:
        open_dashboard(page, server, token)
        assert page.get_attribute("body", "data-state") == "error"
        assert "token" in page.inner_text("#status")
