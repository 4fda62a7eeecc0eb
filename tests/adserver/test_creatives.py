"""The shipped creatives: nothing drawn in them names the audience they target."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import adserver
from tests.adserver.browser import AUDIENCE_WORDS

CREATIVES = sorted((Path(adserver.__file__).parent / "static" / "creatives").glob("*.svg"))


@pytest.mark.parametrize("path", CREATIVES, ids=lambda path: path.name)
def test_a_creative_shows_its_product_and_no_audience_label(path: Path) -> None:
    # GIVEN a shipped creative WHEN its drawn words are read
    words = [node.text or "" for node in ET.parse(path).iter() if node.tag.endswith("text")]
    # THEN it has some, and none says which band or gender it was chosen for
    assert words and not any(AUDIENCE_WORDS.search(text) for text in words), words
