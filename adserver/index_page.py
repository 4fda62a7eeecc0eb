"""The ad server's front page (``GET /``): where the players, the dashboards and the API's
documentation are.

A deployed server knows no tokens (the registry keeps only their digests), so its page says
how the links are made. The local stack's server, which can read the tokens the stack wrote
to its outputs, links each page with its token filled in (``adserver.local_server``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from adserver.api_document import DOCS_PATH

# Where nothing is known of the stores: how the links are made, no token in them.
GENERIC_LINKS: tuple[tuple[str, str], ...] = (
    ("A display's player: /display/{display_id}#token=DISPLAY_TOKEN", ""),
    ("A store's dashboard: /stores/{store}/dashboard#token=OPERATOR_TOKEN", ""),
    ("The API's documentation", DOCS_PATH),
)
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Smart displays: ad server</title>
<style>
  :root {{ font-family: system-ui, sans-serif; color: #222; background: #fff; }}
  body {{ margin: 0 auto; padding: 16px; max-width: 760px; line-height: 1.5; }}
  li {{ margin: 4px 0; }}
  .note {{ color: #555; font-size: 0.9rem; }}
</style>
</head>
<body>
<h1>Smart displays: ad server</h1>
<ul id="links">
{items}
</ul>
<p class="note">{note}</p>
</body>
</html>
"""
DEPLOYED_NOTE = (
    "Tokens are issued with python -m infra.admin token issue, which prints each page's link"
    " with its token in the fragment (#token=...): browsers never send the fragment to the"
    " server."
)
LOCAL_NOTE = (
    "The local stack's tokens are filled in (they are new on every start). A deployed server"
    " never shows tokens here."
)


def index_html(links: Sequence[tuple[str, str]] = GENERIC_LINKS, *, local: bool = False) -> str:
    """The front page listing ``links`` as (text, href); an empty href is text alone."""
    items = "\n".join(
        f'<li><a href="{escape(href)}">{escape(text)}</a></li>'
        if href
        else f"<li>{escape(text)}</li>"
        for text, href in links
    )
    return PAGE.format(items=items, note=escape(LOCAL_NOTE if local else DEPLOYED_NOTE))


def local_links(outputs: Mapping[str, Any], base: str = "") -> list[tuple[str, str]]:
    """Each store's dashboard and each display's player with its token, and /docs, from the
    local stack's outputs (.local/outputs.json); ``base`` goes before each path."""
    operator = str(outputs["operator_token"])
    displays: Mapping[str, Mapping[str, Any]] = outputs.get("displays", {})
    stores = sorted({str(display["store"]) for display in displays.values()})
    links = [
        (f"Dashboard of {store}", f"{base}/stores/{store}/dashboard#token={operator}")
        for store in stores
    ]
    links += [
        (
            f"Player of {display_id} ({display['store']})",
            f"{base}/display/{display_id}#token={display['token']}",
        )
        for display_id, display in sorted(displays.items())
    ]
    links.append(("The API's documentation", f"{base}{DOCS_PATH}"))
    return links
