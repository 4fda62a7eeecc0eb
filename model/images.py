"""Bounded image decoding: every frame either decodes or is rejected with a reason.

A frame is bytes from the outside world, so ``decode_image`` promises one thing: it returns
an upright 8-bit RGB array, or it raises ``ImageRejected`` with a reason a person can act on.
No other exception escapes it, whatever the bytes are.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000
# MPO is what many cameras write: a JPEG with more JPEGs after it. We read the first.
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "MPO"})
# No camera produces a frame with a side under this (it could not hold the smallest face the
# finder looks for, 24 px), or one side more than this many times the other: a 100000x1 PNG
# is a few hundred bytes but costs the face finder a pass per square tile of its short side.
MIN_SIDE_PX = 16
MAX_ASPECT_RATIO = 4.0
# Frames whose samples are wider than 8 bits (16-bit PNGs: Pillow's modes I;16*, I and F) hold
# 2 to 4 bytes a pixel while decoded, before they are brought to 8 bits: they get a lower cap,
# checked from the header like the others. 16 MP (a 4K camera is 8.3) decodes in about
# 32-64 MB, besides the 48 MB of the RGB frame it becomes.
MAX_WIDE_PIXELS = 16_000_000
_WIDE_MODES = ("I", "F")
# 16-bit samples (0..65535) to 8-bit (0..255): 65535 / 255 = 257 exactly. A table of the 65,536
# answers (rounded to nearest) turns a row of samples into bytes in one indexing pass, with no
# float copy of the frame.
_SIXTEEN_TO_EIGHT_BITS = 257
_SIXTEEN_TO_EIGHT_BIT_TABLE = np.rint(np.arange(65536) / _SIXTEEN_TO_EIGHT_BITS).astype(np.uint8)
# Wide frames are brought to 8 bits this many rows at a time, so only a strip is ever widened.
_WIDE_STRIP_ROWS = 256


class ImageRejected(ValueError):
    """A frame we will not process; ``reason`` is written into the rejection record."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode JPEG/PNG/MPO bytes to an upright RGB uint8 array of shape (height, width, 3).

    The size and shape are checked from the header before any pixel is decoded, so an
    oversized or implausibly shaped frame costs nothing; frames of samples wider than 8 bits
    are held to ``MAX_WIDE_PIXELS``. EXIF orientation is applied and 16-bit samples are
    scaled to 8 bits. Raises ImageRejected with a short reason, and nothing else.
    """
    if not data:
        raise ImageRejected("empty file")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ACCEPTED_FORMATS:
                raise ImageRejected(f"not a JPEG/PNG (found {image.format or 'unknown'})")
            check_frame_shape(*image.size, max_pixels=max_pixels)
            _check_wide_frame(image, min(max_pixels, MAX_WIDE_PIXELS))
            image.load()  # force the full decode here, where truncation surfaces
            return _upright_rgb(image)
    except ImageRejected:
        raise
    except UnidentifiedImageError:
        raise ImageRejected("not a JPEG/PNG (unrecognised data)") from None
    except Image.DecompressionBombError as exc:
        raise ImageRejected(f"image too large to decode safely: {exc}") from None
    except (OSError, SyntaxError, EOFError) as exc:
        raise ImageRejected(f"corrupt or truncated image: {_short(exc)}") from None
    except ValueError as exc:
        # Pillow's limits on compressed metadata (a zTXt or iCCP chunk that inflates past
        # PngImagePlugin.MAX_TEXT_CHUNK says "Decompressed Data Too Large") land here.
        raise ImageRejected(f"image metadata over the decoder's limits: {_short(exc)}") from None
    except Exception as exc:
        # Anything else a decoder raises on hostile bytes is still a bad frame, not a crash.
        raise ImageRejected(f"undecodable image ({type(exc).__name__}: {_short(exc)})") from None


def check_frame_shape(width: int, height: int, *, max_pixels: int = MAX_PIXELS) -> None:
    """Reject sizes no camera produces; raises ImageRejected saying which bound was broken."""
    if width * height > max_pixels:
        raise ImageRejected(f"image over {max_pixels / 1e6:g} megapixels ({width}x{height})")
    if min(width, height) < MIN_SIDE_PX:
        raise ImageRejected(
            f"image too small ({width}x{height}; each side must be at least {MIN_SIDE_PX} px)"
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise ImageRejected(
            f"image shape no camera produces ({width}x{height};"
            f" longer side over {MAX_ASPECT_RATIO:g} times the shorter)"
        )


def _check_wide_frame(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    if image.mode.startswith(_WIDE_MODES) and width * height > max_pixels:
        raise ImageRejected(
            f"image of samples wider than 8 bits ({image.mode}) over {max_pixels / 1e6:g}"
            f" megapixels ({width}x{height})"
        )


def _upright_rgb(image: Image.Image) -> np.ndarray:
    image = _exif_upright(image)
    if image.mode.startswith("I") or image.mode == "F":
        return _sixteen_bit_grey_to_rgb(image)
    # A camera's frame is RGB already: converting it would only copy it.
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return np.asarray(rgb, dtype=np.uint8)


def _exif_upright(image: Image.Image) -> Image.Image:
    """Turn the pixels the way the camera's EXIF orientation tag says the picture is held."""
    # A damaged EXIF block says nothing reliable about orientation; the pixels are fine as
    # they are. In place: a copy would cost a whole frame when, as usual, there is nothing to turn.
    with contextlib.suppress(Exception):
        ImageOps.exif_transpose(image, in_place=True)
    return image


def _sixteen_bit_grey_to_rgb(image: Image.Image) -> np.ndarray:
    # convert("RGB") would clip every sample above 255 to white: scale the full 16-bit range,
    # a strip of rows at a time, straight into the RGB frame.
    width, height = image.size
    rgb = np.empty((height, width, 3), dtype=np.uint8)
    for top in range(0, height, _WIDE_STRIP_ROWS):
        bottom = min(height, top + _WIDE_STRIP_ROWS)
        samples = np.asarray(image.crop((0, top, width, bottom)))
        if samples.dtype != np.uint16:  # modes I and F (32-bit): into the table's range
            samples = np.clip(np.rint(samples), 0, 65535).astype(np.uint16)
        rgb[top:bottom] = _SIXTEEN_TO_EIGHT_BIT_TABLE[samples][:, :, np.newaxis]
    return rgb


def _short(exc: BaseException) -> str:
    return str(exc)[:200] or type(exc).__name__


def read_image(path: str) -> np.ndarray:
    """Read and decode an image file; unreadable files raise ImageRejected."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as exc:
        raise ImageRejected(f"cannot read file: {exc.strerror or exc}") from None
    return decode_image(data)
