"""The player page's own behaviour in headless chromium, against a scripted next-ad API.

The end-to-end browser test (test_player_browser.py) runs the same page against the
real ad server; this one scripts the answers so each player rule can be seen alone:
ETag/304 polling, the default creative giving way, proof of play, the screenshot.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import adserver
from tests.adserver.browser import chromium_page, close_to, dominant_colour, hex_colour

ADSERVER_DIR = Path(adserver.__file__).parent
TOKEN = "display-secret"

HOUSE = {
    "ad_id": "house-welcome",
    "creative_url": "/static/creatives/house-welcome.svg",
    "duration_s": 30,
    "audience": {"bucket": "none", "faces": 0, "window_s": 10},
    "reason": "default: nobody in front of the display",
}
SENIOR_FEMALE = {
    "ad_id": "senior-female",
    "creative_url": "/static/creatives/senior-female.svg",
    "duration_s": 2,
    "audience": {"bucket": "senior/female", "faces": 1, "window_s": 10},
    "reason": "targeted senior/female: campaign senior-female-reading-glasses",
}


@dataclass
class ScriptedApi:
    url: str = ""
    answer: dict[str, Any] = field(default_factory=lambda: HOUSE)
    polls: list[int] = field(default_factory=list)  # status of each next-ad answer
    impressions: list[dict[str, Any]] = field(default_factory=list)
    token_revoked: bool = False
    impressions_status: int = 201  # what POST impressions answers (503: the API is down)
    requested: list[str] = field(default_factory=list)  # every GET path, in order


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    state = ScriptedApi()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, kind: str, **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            state.requested.append(self.path)
            if self.path == "/display/d1":
                self._send(200, (ADSERVER_DIR / "player.html").read_bytes(), "text/html")
            elif self.path == "/static/player.js":
                script = (ADSERVER_DIR / "static" / "player.js").read_bytes()
                self._send(200, script, "text/javascript")
            elif self.path.startswith("/static/creatives/"):
                path = ADSERVER_DIR / self.path.lstrip("/")
                self._send(200, path.read_bytes(), "image/svg+xml")
            elif self.path == "/v1/displays/d1/next-ad":
                if self.headers.get("Authorization") != f"Bearer {TOKEN}" or state.token_revoked:
                    self._send(401, b'{"message": "no"}', "application/json")
                    return
                # As the server does: the same decision carries the same ticket until a play
                # is recorded with it.
                ticket = f"{len(state.impressions):032x}"
                body = json.dumps({**state.answer, "ticket": ticket}).encode()
                etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
                status = 304 if self.headers.get("If-None-Match") == etag else 200
                state.polls.append(status)
                headers = {"ETag": etag, "Cache_Control": "private, max-age=1"}
                self._send(status, body if status == 200 else b"", "application/json", **headers)
            else:
                self._send(404, b"{}", "application/json")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/v1/displays/d1/impressions":
                if state.impressions_status == 201:
                    state.impressions.append(json.loads(body))
                self._send(state.impressions_status, body, "application/json")
            else:
                self._send(404, b"{}", "application/json")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


def wait_for(predicate: Any, timeout_s: float = 8.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_player_polls_switches_and_reports(api: ScriptedApi) -> None:
    with chromium_page() as page:
        # GIVEN nobody in front of the display: the default creative fills the screen
        page.goto(f"{api.url}/display/d1#token={TOKEN}")
        page.wait_for_selector("body[data-ad-id='house-welcome']", timeout=10_000)
        page.wait_for_function("document.querySelector('#stage img').complete")
        assert close_to(dominant_colour(page.screenshot()), hex_colour("#2d3436"))
        # AND repeated polls carry the ETag and get 304s
        wait_for(lambda: 304 in api.polls)

        # WHEN a senior woman arrives THEN the default gives way within the next poll
        api.answer = SENIOR_FEMALE
        switched_at = time.monotonic()
        page.wait_for_selector("body[data-ad-id='senior-female']", timeout=5_000)
        assert time.monotonic() - switched_at < 2.5
        page.wait_for_function("document.querySelector('#stage img').complete")
        assert close_to(dominant_colour(page.screenshot()), hex_colour("#8e44ad"))

        # AND the cut-short default play is reported, then the targeted one after its 2 s,
        # then its next play, each with a ticket of its own and no bucket of the player's
        wait_for(lambda: len(api.impressions) >= 3)
        time.sleep(0.3)  # a duplicate post, if any, would land now
        first, second, third = api.impressions[:3]
        assert len({(i["ad_id"], i["started_at_ms"]) for i in api.impressions}) == len(
            api.impressions
        )
        assert len({i["ticket"] for i in api.impressions}) == len(api.impressions)
        assert not any("bucket" in i for i in api.impressions)
        assert first["ad_id"] == "house-welcome" and 0 < first["duration_s"] < 30
        assert second["ad_id"] == "senior-female" and 1.9 <= second["duration_s"] <= 2.5
        assert second["started_at_ms"] > first["started_at_ms"]
        # AND the next play started as the last ended, once the new ticket came
        second_ended = second["started_at_ms"] + second["duration_s"] * 1000
        assert -100 <= third["started_at_ms"] - second_ended < 1000


def test_player_without_token_says_how_to_open_it(api: ScriptedApi) -> None:
    with chromium_page() as page:
        page.goto(f"{api.url}/display/d1")
        # THEN the screen says so full screen, as for a refused token, and nothing is asked
        page.wait_for_selector("body[data-state='refused']", timeout=10_000)
        notice = page.inner_text("#notice")
        assert "no token" in notice and "#token=" in notice and "operator" in notice
        box = page.locator("#notice").bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 200
        assert api.polls == []


SENIOR_MALE = {
    **SENIOR_FEMALE,
    "ad_id": "senior-male",
    "creative_url": "/static/creatives/senior-male.svg",
    "audience": {"bucket": "senior/male", "faces": 1, "window_s": 10},
    "reason": "targeted senior/male: campaign senior-male-garden",
}


def test_the_next_creative_is_loaded_while_the_current_one_plays(api: ScriptedApi) -> None:
    # GIVEN a targeted creative playing its 2 s
    api.answer = SENIOR_FEMALE
    with chromium_page() as page:
        page.goto(f"{api.url}/display/d1#token={TOKEN}")
        page.wait_for_selector("body[data-ad-id='senior-female']", timeout=10_000)
        # WHEN the decision changes while it plays
        api.answer = SENIOR_MALE
        # THEN the next creative is fetched before the current one ends, and shown after
        page.wait_for_selector("body[data-preloaded='senior-male']", timeout=3_000)
        assert page.get_attribute("body", "data-ad-id") == "senior-female"
        assert "/static/creatives/senior-male.svg" in api.requested
        page.wait_for_selector("body[data-ad-id='senior-male']", timeout=5_000)
        fetched = api.requested.count("/static/creatives/senior-male.svg")
        assert fetched == 1, "the preloaded creative was fetched again"


def test_plays_are_kept_until_the_api_has_them(api: ScriptedApi) -> None:
    # GIVEN an API that cannot record impressions (503)
    api.answer = SENIOR_FEMALE
    api.impressions_status = 503
    with chromium_page() as page:
        page.goto(f"{api.url}/display/d1#token={TOKEN}")
        page.wait_for_selector("body[data-ad-id='senior-female']", timeout=10_000)
        # WHEN a play ends, unsent, and the page is reloaded (a restart, a power cut)
        kept = "JSON.parse(localStorage.getItem('player-unsent-plays:d1') || '[]').length"
        page.wait_for_function(f"{kept} >= 1", timeout=5_000)
        first_play = page.evaluate("JSON.parse(localStorage.getItem('player-unsent-plays:d1'))[0]")
        api.answer = HOUSE
        page.reload()
        # AND the API is back
        api.impressions_status = 201
        # THEN the play from before the reload reaches it, and leaves the browser's storage
        wait_for(lambda: first_play in api.impressions)
        assert first_play["ad_id"] == "senior-female" and 1.9 <= first_play["duration_s"] <= 2.5
        page.wait_for_function(f"{kept} == 0", timeout=5_000)


def test_a_revoked_token_clears_the_screen_and_says_so(api: ScriptedApi) -> None:
    with chromium_page() as page:
        # GIVEN a playing display
        page.goto(f"{api.url}/display/d1#token={TOKEN}")
        page.wait_for_selector("body[data-ad-id='house-welcome']", timeout=10_000)
        # WHEN its token is revoked
        api.token_revoked = True
        # THEN no creative is left on screen and the screen says what to do, without the token
        page.wait_for_selector("body[data-state='refused']", timeout=5_000)
        assert page.query_selector("#stage > *") is None
        notice = page.inner_text("#notice")
        assert "revoked" in notice and "operator" in notice and TOKEN not in notice
        assert close_to(dominant_colour(page.screenshot()), (0, 0, 0))
