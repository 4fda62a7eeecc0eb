"""Bounded image decoding: every frame either decodes or is rejected with a reason."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 40_000_000
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG"})


class ImageRejected(ValueError):
    """A frame we will not process; ``reason`` is written into the rejection record."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode JPEG/PNG bytes to an RGB uint8 array of shape (height, width, 3).

    The size is checked from the header before any pixel is decoded, so an
    oversized frame costs nothing. Raises ImageRejected with a short reason.
    """
    if not data:
        raise ImageRejected("empty file")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ACCEPTED_FORMATS:
                raise ImageRejected(f"not a JPEG/PNG (found {image.format or 'unknown'})")
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejected(
                    f"image over {max_pixels / 1e6:g} megapixels ({width}x{height})"
                )
            image.load()  # force the full decode here, where truncation surfaces
            rgb = image.convert("RGB")
    except UnidentifiedImageError:
        raise ImageRejected("not a JPEG/PNG (unrecognised data)") from None
    except Image.DecompressionBombError as exc:
        raise ImageRejected(f"image too large to decode safely: {exc}") from None
    except (OSError, SyntaxError) as exc:
        raise ImageRejected(f"corrupt or truncated image: {exc}") from None
    return np.asarray(rgb, dtype=np.uint8)


def read_image(path: str) -> np.ndarray:
    """Read and decode an image file; unreadable files raise ImageRejected."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as exc:
        raise ImageRejected(f"cannot read file: {exc.strerror or exc}") from None
    return decode_image(data)
