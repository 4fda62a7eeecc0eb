"""What every HTML page of the ad server answers with, and the API's interactive page.

``html_page`` is the one place that builds an HTML response, so every page (the player, the
dashboards, /docs, the front page) carries the same headers:

- ``Content-Security-Policy``: scripts only from this server's own files (no inline script,
  no other origin), inline styles only by the hash of the page's own ``<style>`` blocks,
  requests only to this server, no plugins, no ``<base>``, no framing;
- ``X-Frame-Options: DENY``, for browsers that do not read ``frame-ancestors``;
- ``X-Content-Type-Options: nosniff``; ``Referrer-Policy: no-referrer`` (a player's URL holds
  its token in the fragment, which is never sent, and its path says which display it is).

The player alone may show images and video from other http(s) hosts: the catalog may name
creatives there (``adserver.catalog`` takes http(s) or relative URLs only).

/docs is Swagger UI from the Powertools package, served as files of this server
(its script and styles as two responses, the start-up as /static/docs.js) rather than
Powertools' page, which inlines them.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache, lru_cache
from pathlib import Path

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

PACKAGE_DIR = Path(__file__).parent
SWAGGER_UI_FILES = {
    "swagger-ui-bundle.js": ("swagger-ui-bundle.min.js", "text/javascript; charset=utf-8"),
    "swagger-ui.css": ("swagger-ui.min.css", "text/css; charset=utf-8"),
}
INLINE_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)
POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "connect-src 'self'",
    "img-src 'self' data:",  # data: for Swagger UI's icons, which its stylesheet inlines
    "media-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
REMOTE_MEDIA = ("img-src 'self' data: http: https:", "media-src 'self' http: https:")
HTML = "text/html; charset=utf-8"


@lru_cache(maxsize=64)
def page_headers(html: str, remote_media: bool = False) -> dict[str, str]:
    """The headers of an HTML page whose text is ``html`` (its inline styles are hashed into
    the policy); ``remote_media``: images and video may come from other http(s) hosts."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()}'"
        for style in INLINE_STYLE.findall(html)
    )
    directives = [d for d in POLICY if not (remote_media and d.startswith(("img-", "media-")))]
    if remote_media:
        directives += REMOTE_MEDIA
    directives.append(f"style-src 'self' {hashes}".rstrip())
    return {
        "Content-Security-Policy": "; ".join(directives),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


def html_page(html: str, *, remote_media: bool = False, status: int = 200) -> Response[str]:
    """An HTML page with this server's page headers (see the module docstring)."""
    return Response(status, HTML, html, dict(page_headers(html, remote_media)))


@cache
def _package_text(relative: str) -> str:
    return (PACKAGE_DIR / relative).read_text(encoding="utf-8")


@cache
def _swagger_ui_file(name: str) -> str:
    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    return (Path(swagger_ui.__file__).parent / name).read_text(encoding="utf-8")


def _answer(description: str, media: str) -> dict[int, OpenAPIResponse]:
    return {200: {"description": description, "content": {media: {"schema": {"type": "string"}}}}}


def docs_routes(_deps: object = None) -> Router:
    """/docs and the Swagger UI files it loads (a route factory, as create_app takes)."""
    router = Router()

    @router.get(
        "/docs",
        summary="This API's document as an interactive page (Swagger UI, served here).",
        tags=["pages"],
        responses=_answer("The page.", "text/html"),
    )
    def docs_page() -> Response[str]:
        return html_page(_package_text("docs.html"))

    @router.get(
        "/docs/swagger-ui-bundle.js",
        summary="Swagger UI's script, from the Powertools package.",
        tags=["pages"],
        responses=_answer("The script.", "text/javascript"),
    )
    def swagger_script() -> Response[str]:
        return _swagger_ui_response("swagger-ui-bundle.js")

    @router.get(
        "/docs/swagger-ui.css",
        summary="Swagger UI's styles, from the Powertools package.",
        tags=["pages"],
        responses=_answer("The styles.", "text/css"),
    )
    def swagger_styles() -> Response[str]:
        return _swagger_ui_response("swagger-ui.css")

    return router


def _swagger_ui_response(name: str) -> Response[str]:
    packaged, content_type = SWAGGER_UI_FILES[name]
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    # 1.5 MB of script: gzipped when the browser takes it (a Lambda answer stops at 6 MB).
    return Response(200, content_type, _swagger_ui_file(packaged), headers, compress=True)
