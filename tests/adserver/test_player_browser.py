"""End to end in headless chromium: the player page against the real ad server.

The server is the Lambda's resolver behind the local HTTP adapter. A senior woman
appears in the display's camera observations; the screen must switch from the
default creative to the senior female one within 2 s, and report proof of play.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.adserver.browser import (
    AUDIENCE_WORDS,
    chromium_page,
    close_to,
    dominant_colour,
    hex_colour,
    screen_text,
)
from tests.adserver.live_server import TOKENS, live_server

SENIOR_WOMAN = {
    "box": [200, 120, 140, 140],
    "score": 0.97,
    "age": 68.0,
    "age_band": "senior",
    "gender": "female",
    "gender_confidence": 0.95,
}
HOUSE_COLOUR, SENIOR_FEMALE_COLOUR = hex_colour("#2d3436"), hex_colour("#8e44ad")


def test_player_shows_the_targeted_creative_and_reports_it(tmp_path: Path) -> None:
    with live_server() as server, chromium_page() as page:
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        # GIVEN nobody in front of demo-display-1: the default creative fills the screen
        page.goto(f"{server.url}/display/demo-display-1#token={TOKENS['demo-display-1']}")
        page.wait_for_selector("body[data-ad-id='house-welcome']", timeout=10_000)
        page.wait_for_function("document.querySelector('#stage img').complete")
        assert close_to(dominant_colour(page.screenshot()), HOUSE_COLOUR)

        # WHEN a frame with one senior woman is observed
        seen_at = time.time()
        server.see(int(seen_at * 1000), SENIOR_WOMAN)
        # THEN within 2 s the screen shows the senior female creative
        page.wait_for_selector("body[data-ad-id='senior-female']", timeout=2_000)
        switch_s = time.time() - seen_at
        page.wait_for_function("document.querySelector('#stage img').complete")
        shot = tmp_path / "senior-female.png"
        page.screenshot(path=str(shot))
        assert close_to(dominant_colour(shot.read_bytes()), SENIOR_FEMALE_COLOUR)
        assert switch_s < 2.0
        print(f"screen switched {switch_s:.2f} s after the observation")
        # AND nothing on screen says who the audience is: the creative's words are its
        # product, with no bucket, band or gender label
        shown = screen_text(page)
        assert "Reading glasses" in shown
        assert not AUDIENCE_WORDS.search(shown), shown

        # AND the cut-short default play is recorded as proof of play for the demo store
        page.wait_for_function("Number(document.body.dataset.impressions || 0) >= 1")
        (played,) = server.impressions.for_store("demo-store", 0, 10**13)
        assert played.display == "demo-display-1"
        assert played.ad_id == "house-welcome" and played.bucket == "none"
        assert 0 < played.duration_s < 10
        assert played.ticket is not None  # reported with the ticket of the answer it showed
        # AND the page's Content-Security-Policy refused nothing the player needs
        assert not [line for line in console if "Content Security Policy" in line], console
