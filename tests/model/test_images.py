import io
import struct
import time
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from model.images import (
    MAX_WIDE_PIXELS,
    MIN_SIDE_PX,
    ImageRejected,
    decode_image,
    read_image,
)


def _encode(fmt: str, size=(32, 24)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buffer, fmt)
    return buffer.getvalue()


def test_jpeg_and_png_decode_to_rgb_arrays():
    for fmt in ("JPEG", "PNG"):
        rgb = decode_image(_encode(fmt))
        assert rgb.shape == (24, 32, 3)
        assert rgb.dtype == np.uint8


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"hello, not an image", "not a JPEG/PNG"),
        (_encode("GIF"), "not a JPEG/PNG (found GIF)"),
        (_encode("JPEG", (400, 300))[:600], "corrupt or truncated"),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(data, reason):
    with pytest.raises(ImageRejected) as exc:
        decode_image(data)
    assert reason in exc.value.reason


def test_oversized_image_is_rejected_from_its_header_alone():
    # GIVEN a PNG whose header claims 8000x6000 pixels (48 MP) but carries tiny data
    png = bytearray(_encode("PNG", (1, 1)))
    ihdr = png[16:29]
    ihdr[0:8] = struct.pack(">II", 8000, 6000)
    png[16:29] = ihdr
    png[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))
    # WHEN it is decoded THEN it is rejected for its size, before any pixel is read
    with pytest.raises(ImageRejected, match="over 40 megapixels"):
        decode_image(bytes(png))


def test_unreadable_path_is_rejected(tmp_path):
    with pytest.raises(ImageRejected, match="cannot read file"):
        read_image(str(tmp_path / "missing.jpg"))


# ---------------------------------------------------------------- hostile and odd frames
def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def _with_chunk_after_ihdr(png: bytes, chunk: bytes) -> bytes:
    # signature (8) + IHDR chunk (4 length + 4 type + 13 data + 4 crc) = 33 bytes
    return png[:33] + chunk + png[33:]


def _png_of_size(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(("width", "height"), [(100_000, 1), (20_000, 2), (1, 100_000)])
def test_a_frame_no_camera_produces_is_rejected_from_its_header_in_well_under_a_second(
    width, height
):
    # GIVEN a tiny PNG of an absurdly long, thin shape
    png = _png_of_size(width, height)
    assert len(png) < 2_000
    # WHEN it is decoded
    started = time.perf_counter()
    with pytest.raises(ImageRejected) as exc:
        decode_image(png)
    elapsed_s = time.perf_counter() - started
    # THEN it is rejected for its shape, at once
    assert "too small" in exc.value.reason or "no camera produces" in exc.value.reason
    assert elapsed_s < 0.1


def test_a_frame_longer_than_four_times_its_width_is_rejected_for_its_shape():
    with pytest.raises(ImageRejected, match="no camera produces"):
        decode_image(_png_of_size(4 * 40 + 1, 40))


def test_a_frame_at_the_shape_limits_is_accepted():
    assert decode_image(_png_of_size(4 * MIN_SIDE_PX, MIN_SIDE_PX)).shape == (
        MIN_SIDE_PX,
        4 * MIN_SIDE_PX,
        3,
    )


def test_a_frame_with_a_side_under_the_minimum_is_rejected():
    with pytest.raises(ImageRejected, match="too small"):
        decode_image(_png_of_size(MIN_SIDE_PX - 1, MIN_SIDE_PX))


@pytest.mark.parametrize(
    "chunk",
    [
        _png_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"a" * (2 * 2**20))),
        _png_chunk(b"iCCP", b"profile\0\0" + zlib.compress(b"\0" * (2 * 2**20))),
    ],
    ids=["zTXt", "iCCP"],
)
def test_a_png_whose_metadata_inflates_past_the_decoder_limit_is_rejected(chunk):
    # GIVEN a valid PNG carrying a compressed chunk that inflates to 2 MiB (Pillow stops at 1)
    png = _with_chunk_after_ihdr(_encode("PNG"), chunk)
    # WHEN decoded THEN it is a rejection with a reason, not a ValueError
    with pytest.raises(ImageRejected, match="metadata over the decoder's limits"):
        decode_image(png)


def test_a_truncated_png_is_rejected():
    png = _encode("PNG", (200, 150))
    with pytest.raises(ImageRejected, match="corrupt or truncated"):
        decode_image(png[: len(png) - 40])


def test_a_decompression_bomb_is_rejected_before_decoding():
    # GIVEN a PNG header claiming 20000x20000 pixels, over Pillow's bomb limit
    png = bytearray(_encode("PNG", (1, 1)))
    ihdr = png[16:29]
    ihdr[0:8] = struct.pack(">II", 20_000, 20_000)
    png[16:29] = ihdr
    png[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))
    with pytest.raises(ImageRejected, match="too large"):
        decode_image(bytes(png))


def test_exif_orientation_is_applied():
    # GIVEN an 80x40 picture, red on top and blue below, stored with EXIF orientation 6
    # (the camera was turned: the picture is shown rotated 90 degrees clockwise)
    stored = np.zeros((40, 80, 3), np.uint8)
    stored[:20] = (255, 0, 0)
    stored[20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.fromarray(stored).save(buffer, "JPEG", exif=exif.tobytes(), quality=95)
    # WHEN decoded
    rgb = decode_image(buffer.getvalue())
    # THEN it stands upright: 40 wide, 80 high, the red top now on the right
    assert rgb.shape == (80, 40, 3)
    assert rgb[40, 35, 0] > 200 and rgb[40, 35, 2] < 60
    assert rgb[40, 5, 2] > 200 and rgb[40, 5, 0] < 60


def test_a_sixteen_bit_png_is_scaled_to_eight_bits_not_clipped():
    # GIVEN a 16-bit greyscale PNG running from black to white
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (48, 1))
    buffer = io.BytesIO()
    Image.fromarray(ramp).save(buffer, "PNG")
    # WHEN decoded
    rgb = decode_image(buffer.getvalue())
    # THEN it is the same ramp in 8 bits, on all three channels
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
    assert (rgb[0, 0, 0], rgb[0, 63, 0]) == (0, 255)
    assert abs(int(rgb[0, 32, 0]) - 130) <= 2
    assert (rgb[..., 0] == rgb[..., 2]).all()


def _sixteen_bit_png(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(samples.astype(np.uint16)).save(buffer, "PNG")
    return buffer.getvalue()


def test_sixteen_bit_samples_round_to_the_nearest_eight_bit_value():
    # GIVEN 16-bit samples on both sides of each rounding boundary (x / 257 = n + 0.5)
    samples = np.array([0, 128, 129, 385, 386, 32896, 65406, 65407, 65535] * 2, dtype=np.uint16)
    png = _sixteen_bit_png(np.tile(samples, (16, 1)))
    # WHEN decoded THEN each is x / 257 rounded, as the float path rounded it
    rgb = decode_image(png)
    assert rgb[0, :9, 0].tolist() == [0, 0, 1, 1, 2, 128, 254, 255, 255]


def test_a_sixteen_bit_png_decodes_without_a_wide_copy_of_the_frame():
    # GIVEN a 2000x2000 16-bit PNG (4 MP: its RGB frame is 12 MB; a float64 copy was 32 MB)
    png = _sixteen_bit_png(np.tile(np.arange(2000, dtype=np.uint16) * 32, (2000, 1)))
    # WHEN it is decoded under tracemalloc
    tracemalloc.start()
    try:
        rgb = decode_image(png)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # THEN numpy never held much more than the frame it returns (the float path: 100 MB)
    assert rgb.shape == (2000, 2000, 3) and rgb[0, 1999, 0] == round(1999 * 32 / 257)
    assert peak < 1.5 * rgb.nbytes, f"{peak / 1e6:.1f} MB"


def test_a_sixteen_bit_png_over_the_wide_pixel_cap_is_refused_from_its_header():
    # GIVEN the 16-bit 6300x6300 PNG of the probe (39.7 MP: under the 40 MP of 8-bit frames,
    # over the cap of frames of wider samples), its header patched onto a tiny one
    png = bytearray(_sixteen_bit_png(np.zeros((16, 16))))
    ihdr = png[16:29]
    ihdr[0:8] = struct.pack(">II", 6300, 6300)
    png[16:29] = ihdr
    png[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))
    # WHEN it is decoded THEN it is refused with the reason, before any pixel is read
    with pytest.raises(ImageRejected) as exc:
        decode_image(bytes(png))
    assert exc.value.reason == (
        f"image of samples wider than 8 bits (I;16) over {MAX_WIDE_PIXELS / 1e6:g}"
        " megapixels (6300x6300)"
    )


def test_an_mpo_jpeg_decodes_to_its_first_picture():
    # GIVEN an MPO file (what many cameras write): a red picture, then a blue one
    first, second = Image.new("RGB", (64, 48), (255, 0, 0)), Image.new("RGB", (32, 24), "blue")
    buffer = io.BytesIO()
    first.save(buffer, "MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(buffer.getvalue())).format == "MPO"
    # WHEN decoded THEN the first picture is what comes out
    rgb = decode_image(buffer.getvalue())
    assert rgb.shape == (48, 64, 3)
    assert rgb[24, 32, 0] > 200 and rgb[24, 32, 2] < 60


# ---------------------------------------------------------------- property: only ImageRejected
def _seed_images() -> list[bytes]:
    return [_encode("PNG", (40, 30)), _encode("JPEG", (40, 30))]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes_decode_or_are_rejected(data):
    _decodes_or_is_rejected(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(_seed_images()),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    cut=st.integers(0, 10_000),
)
def test_damaged_pngs_and_jpegs_decode_or_are_rejected(seed, edits, cut):
    damaged = bytearray(seed)
    for position, value in edits:
        damaged[position % len(damaged)] = value
    _decodes_or_is_rejected(bytes(damaged[: max(1, len(damaged) - cut % len(damaged))]))


def _decodes_or_is_rejected(data: bytes) -> None:
    try:
        rgb = decode_image(data)
    except ImageRejected as exc:
        assert exc.reason
        return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
