import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from model.images import ImageRejected, decode_image, read_image


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
