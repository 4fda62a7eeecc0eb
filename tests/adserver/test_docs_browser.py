"""/docs in headless chromium, under the page's own Content-Security-Policy."""

from __future__ import annotations

from tests.adserver.browser import chromium_page
from tests.adserver.live_server import live_server


def test_swagger_ui_renders_the_api_under_the_pages_policy() -> None:
    with live_server() as server, chromium_page(1280, 900) as page:
        # GIVEN the browser's console WHEN /docs is opened
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.goto(f"{server.url}/docs")
        # THEN Swagger UI draws the API's operations, and the policy refused nothing it needs
        page.wait_for_selector(".opblock-summary-path", timeout=20_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert any("/v1/displays/{display_id}/impressions" in path for path in paths)
        assert not [line for line in console if "Content Security Policy" in line], console
