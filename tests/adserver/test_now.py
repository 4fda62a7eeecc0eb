"""GET /v1/stores/{store}/now: who is in front of each display right now, and who has left.

People in view are the tracker's open tracks of the display's cameras, seen in the last few
seconds; those who have left are the people the rollups counted since the store's midnight.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from adserver import api_document
from adserver.catalog import seed_catalog
from adserver.present_now import RECENT_S
from adserver.reports import store_midnight_ms
from adserver.rollups import track_increment
from adserver.tracks import Track
from tests.adserver.live_server import TOKENS, LiveServer, live_server

CAMERA = "demo-store/demo-cam-1"


def open_track(last_at_ms: int, seen: int = 4, looking: bool = False) -> dict[str, Any]:
    """An open track as the tracker saves it (only the fields presence reads matter here)."""
    return {"started_at_ms": last_at_ms - 2000, "last_at_ms": last_at_ms, "seen": seen,
            "last_looking": looking, "looking_s": 1.0 if looking else 0.0}  # fmt: skip


def now_of(server: LiveServer, token: str | None = TOKENS["operator"]) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{server.url}/v1/stores/demo-store/now", headers=headers, timeout=10)


def test_people_in_view_and_people_who_left_today() -> None:
    with live_server() as server:
        now_ms = time.time_ns() // 1_000_000
        # GIVEN two people in view (one looking), one last seen long ago and a one-sighting face
        server.tracks.states[CAMERA] = {
            "open": [open_track(now_ms - 500, looking=True), open_track(now_ms - 1500),
                     open_track(now_ms - int(RECENT_S * 1000) - 5000),
                     open_track(now_ms - 200, seen=1)]}  # fmt: skip
        # AND three people who came and left today
        zone = seed_catalog().store("demo-store").time_zone
        started = max(store_midnight_ms(now_ms, zone), now_ms - 60_000)
        for index in range(3):
            track = Track(CAMERA, started + index, started + 5000, "adult", "male", 0.9, 10, 5, 0)
            server.rollups.add(track_increment(track, 1.0))
        # WHEN the operator asks who is there now
        response = now_of(server)
        # THEN the display has the two recent people in view, one of them looking
        assert response.status_code == 200, response.text
        assert response.headers["Cache-Control"] == "no-store"
        body = response.json()
        api_document.StoreNow.model_validate(body)
        display = body["displays"]["demo-display-1"]
        assert (display["present"], display["looking"]) == (2, 1)
        assert display["cameras"] == [CAMERA]
        assert body["cameras"][CAMERA] == {"present": 2, "looking": 1}
        # AND the three who left are counted apart from them
        assert body["left_today"] == 3
        assert body["tracking"] is True
        # AND a display of another store is not listed
        assert "north-display-1" not in body["displays"]


def test_an_empty_store_has_nobody_in_view() -> None:
    with live_server() as server:
        body = now_of(server).json()
        assert body["displays"]["demo-display-1"]["present"] == 0
        assert body["left_today"] == 0


@pytest.mark.parametrize(
    ("token", "status"), [(None, 401), ("wrong", 401), (TOKENS["demo-display-1"], 403)]
)
def test_only_an_operator_may_ask(token: str | None, status: int) -> None:
    with live_server() as server:
        assert now_of(server, token).status_code == status


def test_an_unknown_store_is_not_found() -> None:
    with live_server() as server:
        url = f"{server.url}/v1/stores/nowhere/now"
        headers = {"Authorization": f"Bearer {TOKENS['operator']}"}
        assert requests.get(url, headers=headers, timeout=10).status_code == 404
