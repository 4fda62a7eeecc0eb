"""Frame keys: frames/{store}/{camera}/{epoch_ms}.jpg, both ways."""

from __future__ import annotations

import pytest

from lambdas.frame_keys import FrameKey, InvalidFrameKey


def test_a_frame_key_parses_into_store_camera_and_time():
    frame = FrameKey.parse("frames/demo-store/demo-cam-1/1700000000123.jpg")
    assert (frame.store, frame.camera, frame.captured_at_ms) == (
        "demo-store",
        "demo-cam-1",
        1_700_000_000_123,
    )
    assert frame.camera_key == "demo-store/demo-cam-1"


def test_a_built_key_parses_back_to_the_same_frame():
    frame = FrameKey("store_2", "cam-9", 1_700_000_000_000)
    assert FrameKey.parse(frame.key) == frame


@pytest.mark.parametrize(
    "key",
    [
        "frames/demo-store/1700000000000.jpg",
        "frames/demo-store/demo-cam-1/yesterday.jpg",
        "frames/demo-store/demo-cam-1/1700000000000.gif",
        "frames/../demo-cam-1/1700000000000.jpg",
        "other/demo-store/demo-cam-1/1700000000000.jpg",
    ],
)
def test_keys_outside_the_scheme_are_refused_with_the_expected_shape(key):
    with pytest.raises(InvalidFrameKey, match=r"expected frames/<store>/<camera>/<epoch_ms>\.jpg"):
        FrameKey.parse(key)
