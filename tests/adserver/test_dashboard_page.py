"""The dashboard page and its script are served by the ad server, with no token and no CDN."""

from __future__ import annotations

import re

import requests

from tests.adserver.live_server import live_server


def test_the_page_and_its_script_are_served_and_load_nothing_from_elsewhere() -> None:
    with live_server() as server:
        # WHEN the page of a known store is asked for (no token: it is in the fragment)
        page = requests.get(f"{server.url}/stores/demo-store/dashboard", timeout=10)
        script = requests.get(f"{server.url}/static/dashboard.js", timeout=10)
        # THEN both come back, and every script the page loads is the project's own
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
        assert re.findall(r'<script src="([^"]+)"', page.text) == ["/static/dashboard.js"]
        assert "http://" not in script.text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in script.text + page.text


def test_an_unknown_store_has_no_dashboard() -> None:
    with live_server() as server:
        for store in ("nowhere", "../etc"):
            response = requests.get(f"{server.url}/stores/{store}/dashboard", timeout=10)
            assert response.status_code == 404
