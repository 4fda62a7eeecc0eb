"""GET /: the front page links the players, the dashboards and /docs; on the local stack's
server (given its outputs) with the tokens filled in, on a deployed one never."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from adserver.local_server import make_request_handler
from tests.adserver.live_server import live_server

OPERATOR, DISPLAY = "op-secret-1", "display-secret-2"


def outputs_of(url: str) -> dict[str, Any]:
    """The part of .local/outputs.json the front page reads."""
    return {
        "adserver_url": url,
        "operator_token": OPERATOR,
        "displays": {"demo-display-1": {"token": DISPLAY, "store": "demo-store", "cameras": []}},
    }


def not_found(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 404, "headers": {"Content-Type": "application/json"}, "body": "{}"}


@contextmanager
def local_server(outputs_path: Path | None) -> Iterator[str]:
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), make_request_handler(not_found, 10, outputs_path)
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_deployed_front_page_links_docs_and_holds_no_token() -> None:
    with live_server() as server:
        # WHEN the ad server's front page is asked for
        page = requests.get(f"{server.url}/", timeout=10)
        # THEN it is a page linking /docs and saying how player and dashboard links are made
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert 'href="/docs"' in page.text
        assert "/display/{display_id}#token=DISPLAY_TOKEN" in page.text
        assert "/stores/{store}/dashboard#token=OPERATOR_TOKEN" in page.text
        assert "<script" not in page.text


def test_the_local_front_page_fills_in_the_stack_tokens(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    with local_server(outputs) as url:
        # GIVEN the stack's outputs naming this server
        outputs.write_text(json.dumps(outputs_of(url)))
        # WHEN its front page is asked for
        page = requests.get(f"{url}/", timeout=10)
        # THEN the dashboard and the player are linked with their tokens, and /docs
        assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
        assert f'href="/stores/demo-store/dashboard#token={OPERATOR}"' in page.text
        assert f'href="/display/demo-display-1#token={DISPLAY}"' in page.text
        assert 'href="/docs"' in page.text
        # AND any other path still goes to the function
        assert requests.get(f"{url}/v1/anything", timeout=10).status_code == 404


def test_outputs_of_another_stack_are_not_shown(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(outputs_of("http://127.0.0.1:1")))
    with local_server(outputs) as url:
        # WHEN the outputs name another server THEN its tokens are not on this one's page
        page = requests.get(f"{url}/", timeout=10)
        assert OPERATOR not in page.text and page.status_code == 404
