"""Every HTML page of the ad server answers with the same security headers (adserver.pages)."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.adserver import test_api
from tests.adserver.test_api import Stack, call

stack = test_api.stack  # the routes' fixture: the app over in-memory stores

# A <script> element with content of its own (not src=): what the policy would not run.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", re.IGNORECASE)
EVENT_ATTRIBUTE = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def html_routes(stack: Stack) -> list[str]:
    """Every GET route whose documented answer is an HTML page, with example ids filled in."""
    document = json.loads(call(stack, "GET", "/openapi.json")[2])
    urls = []
    for path, item in document["paths"].items():
        answer = item.get("get", {}).get("responses", {}).get("200", {})
        if "text/html" not in answer.get("content", {}):
            continue
        for parameter in item["get"].get("parameters", []):
            if parameter["in"] == "path":
                example = parameter["schema"]["examples"][0]
                path = path.replace(f"{{{parameter['name']}}}", example)
        urls.append(path)
    return urls


def directives(policy: str) -> dict[str, list[str]]:
    parsed = (part.split() for part in policy.split(";") if part.strip())
    return {name: sources for name, *sources in parsed}


def test_every_html_page_sends_the_security_headers(stack: Stack) -> None:
    # GIVEN every page the API documents as HTML (the player, dashboards, /docs, the index)
    urls = html_routes(stack)
    assert {"/", "/docs", "/display/demo-display-1", "/stores/demo-store/dashboard"} <= set(urls)
    for url in urls:
        # WHEN it is fetched
        status, headers, body = call(stack, "GET", url)
        # THEN it answers with the four headers, and a policy that runs only this server's
        # script files and lets no other site frame it
        assert status == 200, url
        assert headers["X-Frame-Options"] == "DENY", url
        assert headers["X-Content-Type-Options"] == "nosniff", url
        assert headers["Referrer-Policy"] == "no-referrer", url
        policy = directives(headers["Content-Security-Policy"])
        assert policy["script-src"] == ["'self'"], url
        assert policy["frame-ancestors"] == ["'none'"] and policy["connect-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"] and policy["default-src"] == ["'self'"]
        assert not any("unsafe" in source for sources in policy.values() for source in sources)
        # AND the page holds no script the policy would refuse to run
        page = body.decode()
        assert not INLINE_SCRIPT.search(page), url
        assert not EVENT_ATTRIBUTE.search(page), url


def test_inline_styles_are_allowed_by_their_hash_only(stack: Stack) -> None:
    # GIVEN the player, whose styles are inline WHEN served THEN its policy names their hash
    _, headers, _ = call(stack, "GET", "/display/demo-display-1")
    styles = directives(headers["Content-Security-Policy"])["style-src"]
    assert styles[0] == "'self'" and len(styles) == 2 and styles[1].startswith("'sha256-")
    # AND only the player may show creatives from other http(s) hosts
    assert "https:" in directives(headers["Content-Security-Policy"])["img-src"]
    _, headers, _ = call(stack, "GET", "/stores/demo-store/dashboard")
    assert directives(headers["Content-Security-Policy"])["img-src"] == ["'self'", "data:"]


def test_the_docs_page_loads_swagger_ui_from_this_server(stack: Stack) -> None:
    # GIVEN /docs WHEN its script and styles are fetched THEN they are Swagger UI's, from here
    _, _, page = call(stack, "GET", "/docs")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.decode())
    assert sources == ["/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js", "/static/docs.js"]
    answers: dict[str, Any] = {source: call(stack, "GET", source) for source in sources}
    assert all(status == 200 for status, _, _ in answers.values())
    assert b"SwaggerUIBundle" in answers["/docs/swagger-ui-bundle.js"][2]
    assert answers["/docs/swagger-ui.css"][1]["Content-Type"].startswith("text/css")
    assert b'url: "/openapi.json"' in answers["/static/docs.js"][2]
