"""Frame keys: frames/{store}/{camera}/{epoch_ms}.jpg, both ways."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@pytest.mark.parametrize(
    "key",
    [
        "frames/demo-store/demo-cam-1/١٧٠٠٠٠٠٠٠٠٠٠٠.jpg",  # Arabic-Indic digits
        "frames/demo-store/demo-cam-1/１７００００００００００００.jpg",  # fullwidth digits
        "frames/demo-store/demo-cam-\u0661/1700000000000.jpg",
        "frames/demo-store/\u212aelvin/1700000000000.jpg",  # Kelvin sign, "k" under IGNORECASE
        "frames/demo-store/demo-cam-1/1700000000000.jpg\n",
    ],
    ids=["arabic-indic-time", "fullwidth-time", "arabic-indic-camera", "kelvin-sign", "newline"],
)
def test_only_ascii_keys_are_frame_keys(key):
    # GIVEN a key that reads like a frame key but is not ASCII (or has a trailing newline)
    # WHEN parsed THEN it is refused, not turned into an ASCII key that never existed
    with pytest.raises(InvalidFrameKey):
        FrameKey.parse(key)


def test_the_extension_keeps_its_case_so_the_key_is_the_objects_own():
    frame = FrameKey.parse("frames/demo-store/demo-cam-1/1700000000000.JPG")
    assert frame.extension == "JPG"
    assert frame.key == "frames/demo-store/demo-cam-1/1700000000000.JPG"


_ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")


@settings(max_examples=300)
@given(key=st.text(max_size=120) | st.from_regex(r"\Aframes/[^/]*/[^/]*/[^/]*\Z"))
def test_any_string_parses_to_a_frame_whose_key_is_itself_or_is_refused(key):
    # Property: parse either raises InvalidFrameKey or returns a frame built from ASCII parts
    # that gives back exactly the key it was parsed from.
    try:
        frame = FrameKey.parse(key)
    except InvalidFrameKey:
        return
    assert frame.key == key
    assert frame.key.isascii() and frame.store.isascii() and frame.camera.isascii()


@settings(max_examples=200)
@given(
    store=_ids,
    camera=_ids,
    captured_at_ms=st.integers(10**9, 10**15 - 1),
    extension=st.sampled_from(["jpg", "jpeg", "png", "JPG", "Png"]),
)
def test_every_built_key_parses_back(store, camera, captured_at_ms, extension):
    frame = FrameKey(store, camera, captured_at_ms, extension)
    assert FrameKey.parse(frame.key) == frame
