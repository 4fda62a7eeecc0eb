"""Frame object keys, frames/{store_id}/{camera_id}/{epoch_ms}.jpg: built and parsed here."""

from __future__ import annotations

import re
from dataclasses import dataclass

FRAMES_PREFIX = "frames/"
# Ids become S3 key segments and DynamoDB keys, so keep them to a safe, readable alphabet.
# ASCII only, spelled out: \d and str.isdigit() also accept Arabic-Indic and other digits,
# which int() would quietly turn into an ASCII key that never existed; and without re.ASCII,
# IGNORECASE lets the Kelvin sign match [A-Za-z].
_ID = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
_FRAME_KEY = re.compile(
    rf"^frames/(?P<store>{_ID})/(?P<camera>{_ID})/(?P<epoch_ms>[0-9]{{10,15}})\.(?P<ext>jpe?g|png)\Z",
    re.IGNORECASE | re.ASCII,
)
_ID_ONLY = re.compile(rf"^{_ID}\Z", re.ASCII)


class InvalidFrameKey(ValueError):
    """An object key that does not follow the frame key scheme."""


@dataclass(frozen=True)
class FrameKey:
    """Where a frame came from and when it was captured, as encoded in its object key.

    A camera's frame is identified by its camera and capture time: two objects that differ
    only in extension (``.jpg``, ``.JPG``, ``.png``) claim the same frame. The extension is
    kept as written, so ``key`` is always the object's real key.
    """

    store: str
    camera: str
    captured_at_ms: int
    extension: str = "jpg"

    @property
    def key(self) -> str:
        return f"{FRAMES_PREFIX}{self.store}/{self.camera}/{self.captured_at_ms}.{self.extension}"

    @property
    def camera_key(self) -> str:
        """The "{store}/{camera}" id under which a camera's observations are kept."""
        return camera_key(self.store, self.camera)

    @classmethod
    def parse(cls, key: str) -> FrameKey:
        """Parse an (already URL-decoded) object key; raises InvalidFrameKey with the reason."""
        match = _FRAME_KEY.match(key)
        if match is None:
            raise InvalidFrameKey(
                f"not a frame key (expected frames/<store>/<camera>/<epoch_ms>.jpg): {key[:200]!r}"
            )
        return cls(
            store=match["store"],
            camera=match["camera"],
            captured_at_ms=int(match["epoch_ms"]),
            extension=match["ext"],
        )


def camera_key(store: str, camera: str) -> str:
    """The partition key of a camera's observations."""
    return f"{store}/{camera}"


def is_valid_id(value: str) -> bool:
    """Whether a store or camera id can appear in a frame key."""
    return bool(_ID_ONLY.match(value))
