"""The store dashboard in headless chromium against the ad server, with a week of rollups.

The page takes the operator token from its URL fragment, reads the report API, and draws
every chart as SVG: each must have a title, a legend and an axis naming the dates it
covers, at 1280 px and on a phone; the CSV export holds one row per hour.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import pytest
from PIL import Image

from adserver.catalog import ALL_BUCKETS
from adserver.impressions import Impression
from adserver.rollups import track_increment
from adserver.tracks import Track
from tests.adserver.browser import chromium_page, hex_colour
from tests.adserver.live_server import TOKENS, LiveServer, live_server

WEEK_START_MS = 1_763_856_000_000  # Sunday 2025-11-23 00:00 UTC
HOUR_MS = 3_600_000
RANGE = "from=2025-11-23T00:00:00Z&to=2025-11-30T00:00:00Z"
PEOPLE_BLUE = hex_colour("#1f77b4")
CHARTS = (
    "people-by-hour",
    "people-by-weekday",
    "people-by-bucket",
    "impressions-by-bucket",
    "durations-by-bucket",
    "by-place",
    "audience-by-ad",
    "duration-distributions",
)


def a_week_of_audience(server: LiveServer) -> int:
    """People at demo-cam-1 and plays on demo-display-1, 09:00-20:00 each day; how many people."""
    rng = random.Random(3)
    people = 0
    for day in range(7):
        for hour in range(9, 21):
            start = WEEK_START_MS + (day * 24 + hour) * HOUR_MS
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


def open_dashboard(page, server: LiveServer, token: str) -> None:
    page.goto(f"{server.url}/stores/demo-store/dashboard#token={token}&{RANGE}")
    page.wait_for_selector("body[data-state='ready'], body[data-state='error']", timeout=15_000)


def test_the_dashboard_draws_every_chart_with_legend_title_and_dates(tmp_path: Path) -> None:
    with live_server() as server, chromium_page(1280, 900) as page:
        # GIVEN a week of people and plays in the rollups
        people = a_week_of_audience(server)
        # WHEN the operator opens the dashboard for that week
        open_dashboard(page, server, TOKENS["operator"])
        assert page.get_attribute("body", "data-state") == "ready"
        # THEN the totals show the week's people
        assert f"{people}" in page.inner_text("#totals")
        # AND every chart is an SVG with a title, a legend and an axis naming the dates
        for chart in CHARTS:
            svg = page.locator(f"#{chart} svg")
            assert svg.count() == 1, chart
            assert svg.locator("title").first.text_content(), chart
            legend = svg.locator("g.legend text").all_text_contents()
            assert legend and all(legend), chart
            axis_title = svg.locator("g.x-axis text.axis-title").text_content() or ""
            assert "Sun 23 Nov to Sat 29 Nov 2025" in axis_title, (chart, axis_title)
        hourly_axis = page.locator("#people-by-hour g.x-axis text").all_text_contents()
        assert {"Sun 23 Nov", "Mon 24 Nov"} <= set(hourly_axis)
        assert page.locator("#people-by-hour g.bars rect").count() == 2 * 7 * 24
        # AND the screenshot is a white page with the people series drawn in its colour
        shot = tmp_path / "dashboard-1280.png"
        page.screenshot(path=str(shot), full_page=True)
        png = shot.read_bytes()
        assert Image.open(io.BytesIO(png)).size[0] == 1280
        assert share_of(png, (255, 255, 255)) > 0.5
        assert share_of(png, PEOPLE_BLUE) > 0.005

        # WHEN the CSV is downloaded THEN it has a header and one row per hour of the week
        with page.expect_download() as download:
            page.click("#csv")
        rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
        assert rows[0][:4] == ["hour", "people", "watchers", "impressions"]
        assert len(rows) == 1 + 7 * 24
        assert sum(int(row[1] or 0) for row in rows[1:]) == people


def test_the_dashboard_fits_a_phone_with_legible_text(tmp_path: Path) -> None:
    with live_server() as server, chromium_page(390, 844) as page:
        a_week_of_audience(server)
        open_dashboard(page, server, TOKENS["operator"])
        # THEN nothing is wider than the screen and chart text is at least 10 px tall
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        box = page.locator("#people-by-weekday g.legend text").first.bounding_box()
        assert box is not None and box["height"] >= 10
        page.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=True)


@pytest.mark.parametrize("token", ["", "wrong-token", TOKENS["demo-display-1"]])
def test_without_an_operator_token_the_page_says_so(token: str) -> None:
    with live_server() as server, chromium_page() as page:
        open_dashboard(page, server, token)
        assert page.get_attribute("body", "data-state") == "error"
        assert "token" in page.inner_text("#status")
