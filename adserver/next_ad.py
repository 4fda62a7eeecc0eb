"""An interim next-ad rule: name the dominant audience and show its house ad.

Deliberately small and replaceable: real selection (catalog, targeting, frequency caps) plugs
in through ``AdServerDependencies.next_ad`` with the same signature.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from adserver.registry import Display
from lambdas.observations import Observation

NO_AUDIENCE = "none"
HOUSE_AD_SECONDS = 10


@dataclass(frozen=True)
class Audience:
    """The most common age band x gender among recent faces ("none" when nobody was seen)."""

    bucket: str
    faces: int
    window_s: int

    def to_dict(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "faces": self.faces, "window_s": self.window_s}


class NextAdPolicy(Protocol):
    def __call__(
        self, display: Display, recent: list[Observation], window_s: int
    ) -> dict[str, Any]: ...


def dominant_audience(recent: Iterable[Observation], window_s: int) -> Audience:
    """Count every face in the window by "{age_band}_{gender}"; ties go to the first name."""
    counts = Counter(
        f"{face['age_band']}_{face['gender']}"
        for observation in recent
        if observation.status == "ok"
        for face in observation.faces
    )
    if not counts:
        return Audience(NO_AUDIENCE, faces=0, window_s=window_s)
    bucket = min(counts, key=lambda name: (-counts[name], name))
    return Audience(bucket, faces=sum(counts.values()), window_s=window_s)


def interim_next_ad(display: Display, recent: list[Observation], window_s: int) -> dict[str, Any]:
    """The house ad for the dominant audience, and why it was picked."""
    audience = dominant_audience(recent, window_s)
    if audience.bucket == NO_AUDIENCE:
        reason = f"no faces seen by {len(display.cameras)} camera(s) in the last {window_s} s"
    else:
        reason = f"most common audience in the last {window_s} s: {audience.bucket}"
    return {
        "ad_id": f"house-{audience.bucket}",
        "creative_url": _house_creative(audience.bucket),
        "duration_s": HOUSE_AD_SECONDS,
        "audience": audience.to_dict(),
        "reason": reason,
    }


def _house_creative(bucket: str) -> str:
    # A self-contained SVG, so the interim ad needs no creative storage.
    label = "Welcome!" if bucket == NO_AUDIENCE else f"Picked for {bucket.replace('_', ' ')}"
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="1280" height="720">'
        '<rect width="100%" height="100%" fill="#1d3557"/>'
        '<text x="50%" y="50%" fill="#f1faee" font-size="64" text-anchor="middle">'
        f"{label}</text></svg>"
    )
    return "data:image/svg+xml," + quote(svg)
