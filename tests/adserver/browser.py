"""Headless Debian chromium driven by Playwright, and a screenshot colour check."""

from __future__ import annotations

import io
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from PIL import Image

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    """The browser the player tests drive: $CHROMIUM (any Chrome or Chromium), else Debian's
    chromium, which `make test` installs where apt-get can. Never one Playwright downloads.

    Without one the tests are skipped with a message saying how to run them, except on CI
    (the CI variable set), where a missing browser fails them."""
    named = os.environ.get("CHROMIUM")
    if named:
        if not os.access(named, os.X_OK):
            pytest.fail(f"CHROMIUM={named} is not an executable file")
        return named
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        message = (
            "no chromium: install it (apt-get install chromium) or point CHROMIUM at a Chrome, "
            'e.g. CHROMIUM="/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"'
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@contextmanager
def chromium_page(width: int = 640, height: int = 360) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def dominant_colour(png: bytes) -> tuple[int, int, int]:
    """The most common colour of the screenshot's centre half (text and edges aside)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    centre = image.crop((width // 4, height // 4, 3 * width // 4, 3 * height // 4))
    counts = centre.getcolors(maxcolors=centre.width * centre.height) or []
    _count, colour = max(counts)
    return colour


def hex_colour(text: str) -> tuple[int, int, int]:
    text = text.lstrip("#")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def close_to(
    seen: tuple[int, int, int], expected: tuple[int, int, int], tolerance: int = 6
) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(seen, expected, strict=True))


# Words that would tell a shopper how the camera classified them: band and gender names in
# any spelling the project uses ("senior/female", "young-adult-female", "young_adult").
AUDIENCE_WORDS = re.compile(r"\b(child|teen|young[-_ ]?adult|adult|senior|male|female)\b", re.I)

SCREEN_TEXT_JS = """async () => {
  const parts = [document.body.innerText];
  for (const element of document.querySelectorAll("#stage *")) {
    for (const name of ["alt", "title", "aria-label"]) parts.push(element.getAttribute(name) || "");
    if (element.tagName === "IMG" && /\\.svg(\\?|$)/.test(element.src)) {
      const source = await (await fetch(element.src)).text();
      const svg = new DOMParser().parseFromString(source, "image/svg+xml");
      for (const text of svg.querySelectorAll("text, title, desc")) parts.push(text.textContent);
    }
  }
  return parts.join("\\n");
}"""


def screen_text(page: Any) -> str:
    """Every text a viewer can see or a screen reader says: the page's, the shown creative's
    attributes, and the words drawn inside an SVG creative."""
    return str(page.evaluate(SCREEN_TEXT_JS))
