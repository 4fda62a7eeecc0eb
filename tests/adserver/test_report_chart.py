"""The store report's SVG chart: well-formed, one stacked bar per hour, bars to scale."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from adserver.impressions import Impression
from adserver.report_chart import PANEL_HEIGHT, render_svg
from adserver.reports import build_report
from tests.fakes import rollup_records

T0 = 1_717_779_600_000  # 2024-06-07 17:00 UTC
HOUR = 3_600_000
SVG = "{http://www.w3.org/2000/svg}"


def played(minute: int, bucket: str) -> Impression:
    start = T0 + minute * 60_000
    return Impression("demo-store", "d1", "x", None, bucket, start, 8.0, start)


def bars(svg: str) -> dict[str, float]:
    """Each bar's tooltip ("<hour> <bucket>: <value>") -> its height."""
    root = ET.fromstring(svg)
    return {
        rect.findtext(f"{SVG}title") or "": float(rect.attrib["height"])
        for rect in root.iter(f"{SVG}rect")
        if rect.find(f"{SVG}title") is not None
    }


def test_each_hour_has_a_bar_per_bucket_to_scale() -> None:
    # GIVEN three plays for teen/male and one for senior/female in the first of three hours
    plays = [played(5, "teen/male"), played(6, "teen/male"), played(7, "teen/male")]
    records = rollup_records([*plays, played(8, "senior/female")])
    report = build_report("demo-store", T0, T0 + 3 * HOUR, records)
    # WHEN the chart is drawn
    svg = render_svg(report)
    # THEN it is one SVG document whose impressions bars stack 3 + 1 on a scale of 4
    assert ET.fromstring(svg).tag == f"{SVG}svg"
    heights = bars(svg)
    assert heights == {
        "2024-06-07T17:00:00+00:00 Teen, male: 3": PANEL_HEIGHT * 3 / 4,
        "2024-06-07T17:00:00+00:00 Senior, female: 1": PANEL_HEIGHT * 1 / 4,
    }
    # AND the legend names both buckets as a person would, the hours axis shows each hour
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert {"Teen, male", "Senior, female", "17:00", "18:00", "19:00"} <= set(texts)


def test_an_empty_report_is_still_a_chart() -> None:
    # GIVEN an hour with no plays and no sightings
    report = build_report("s", T0, T0 + HOUR, [])
    # WHEN drawn THEN the chart is well formed, with its title and no bars
    root = ET.fromstring(render_svg(report))
    assert root.findtext(f"{SVG}title") == "s: 2024-06-07T17:00:00Z to 2024-06-07T18:00:00Z"
    assert bars(render_svg(report)) == {}


def test_text_from_the_catalog_is_escaped() -> None:
    # GIVEN a report whose time zone string holds markup (the catalog is operator input)
    report = build_report("s", T0, T0 + HOUR, [])
    report["time_zone"] = "<script>alert(1)</script>"
    # WHEN drawn THEN the markup is text, not an element
    svg = render_svg(report)
    assert not list(ET.fromstring(svg).iter(f"{SVG}script"))
    assert re.search(r"hour \(&lt;script&gt;", svg)


def test_a_month_is_a_bar_per_day_with_every_day_named() -> None:
    # GIVEN a 31-day report with one play a day
    month = 31 * 24 * HOUR
    plays = [played(day * 24 * 60 + 30, "teen/male") for day in range(31)]
    report = build_report("demo-store", T0, T0 + month, rollup_records(plays))
    # WHEN drawn
    svg = render_svg(report)
    root = ET.fromstring(svg)
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    # THEN it is at most 1,410 px wide, a bar per day holds that day's play (the range starts
    # at 17:00, so it touches 32 dates), each day is named on the axis, and the axis and the
    # title line say what the chart covers
    assert float(root.attrib["width"]) <= 60 + 1200 + 150
    heights = bars(svg)
    assert len(heights) == 31 and "2024-06-07 Teen, male: 1" in heights
    days = [t for t in texts if re.fullmatch(r"[A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2}", t)]
    assert days[:2] == ["Fri 7 Jun", "Sat 8 Jun"] and len(days) == 32
    assert any(t.startswith("day (UTC), 2024-06-07 to 2024-07-08") for t in texts)
    assert "Totals: people 0, watchers 0, impressions 31" in texts


def test_two_days_stay_a_bar_per_hour() -> None:
    report = build_report(
        "demo-store", T0, T0 + 48 * HOUR, rollup_records([played(5, "teen/male")])
    )
    texts = [t.text or "" for t in ET.fromstring(render_svg(report)).iter(f"{SVG}text")]
    assert "17:00" in texts and any(t.startswith("hour (UTC)") for t in texts)
