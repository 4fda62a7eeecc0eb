"""The whole audience path on the local stack: observations -> tracker (stream poller) ->
rollups <- plays; the report API and the dashboard in headless chromium read them."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from infra.stack import start_in_background, stop_background
from lambdas.frame_keys import FrameKey
from lambdas.observations import ObservationStore, ok_observation
from tests.adserver.browser import chromium_page
from tests.infra.test_stream_poller import face

pytestmark = pytest.mark.stack
PEOPLE, PLAYS = 6, 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("dashboard-stack")
    process, outputs = start_in_background(run_dir, extra_args=("--workers", "1"))
    yield outputs
    stop_background(process)


def people_pass(outputs, start_ms: int, people: int) -> None:
    """``people`` people pass demo-cam-1 one after another, each seen in four frames."""
    table = outputs.resource("dynamodb").Table(outputs.document["observations_table"])
    store = ObservationStore(table)
    frames = [
        (start_ms + 6000 * p + 500 * k, [face(looking=p % 2 == 0)])
        for p in range(people)
        for k in range(4)
    ]
    frames.append((start_ms + 6000 * people + 10_000, []))  # nobody: the last one has left
    for at_ms, faces in frames:
        frame = FrameKey("demo-store", "demo-cam-1", at_ms)
        store.put(ok_observation(frame, faces, processed_at_ms=at_ms + 100, model_version="m"))


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def report(outputs, query, until=lambda report: True, timeout_s=60.0):
    """The report of ``query``'s range once ``until`` holds (the tracker runs on its own)."""
    operator = {"Authorization": f"Bearer {outputs.operator_token}"}
    deadline = time.monotonic() + timeout_s
    while True:
        answer = requests.get(
            f"{outputs.adserver_url}/v1/stores/demo-store/report",
            params=query,
            headers=operator,
            timeout=10,
        ).json()
        if until(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def test_people_and_plays_reach_the_report_and_the_dashboard(stack, tmp_path: Path) -> None:
    outputs = stack
    now_ms = time.time_ns() // 1_000_000
    start_ms = now_ms - 120_000
    query = {"from": iso(start_ms - 3_600_000), "to": iso(now_ms + 3_600_000)}
    # GIVEN six people passing the demo camera 6 s apart, every other one looking
    people_pass(outputs, start_ms, PEOPLE)
    people = report(outputs, query, until=lambda r: r["totals"]["people"] == PEOPLE)
    assert (people["totals"]["people"], people["totals"]["watchers"]) == (PEOPLE, 3)
    # WHEN the display reports three 8 s plays from the first one's arrival on
    display = outputs.display("demo-display-1")
    headers = {"Authorization": f"Bearer {display['token']}"}
    for index in range(PLAYS):
        decided = requests.get(
            f"{outputs.adserver_url}/v1/displays/demo-display-1/next-ad",
            headers=headers,
            timeout=10,
        ).json()  # nobody in front now: the default creative, and the play's ticket
        play = {
            "ticket": decided["ticket"],
            "ad_id": decided["ad_id"],
            "started_at_ms": start_ms + 8000 * index,
            "duration_s": 8.0,
        }
        answer = requests.post(
            f"{outputs.adserver_url}/v1/displays/demo-display-1/impressions",
            json=play,
            headers=headers,
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
    # THEN the report counts the plays, and the people present while they played: two,
    # one and two (the fifth arrived as the third play ended), a watcher at each
    plays = report(outputs, query)
    assert plays["totals"]["impressions"] == PLAYS
    shown = plays["by_display"]["demo-display-1"]
    assert (shown["audience_people"], shown["audience_watchers"]) == (5, 3)
    assert plays["by_ad"]["house-welcome"]["people_per_play"] == round(5 / 3, 2)
    # AND the dashboard shows the same in headless chromium
    with chromium_page(1280, 900) as page:
        page.goto(
            f"{outputs.adserver_url}/stores/demo-store/dashboard#token={outputs.operator_token}"
            f"&from={query['from']}&to={query['to']}"
        )
        page.wait_for_selector("body[data-state='ready']", timeout=20_000)
        cards = page.inner_text("#totals")
        assert f"People (have left)\n{PEOPLE}" in cards
        assert f"Ads played\n{PLAYS}" in cards
        per_ad = page.locator("#audience-by-ad g.bars rect title").all_text_contents()
        assert "house-welcome, People present: 5" in per_ad
        page.screenshot(path=str(tmp_path / "stack-dashboard.png"), full_page=True)
