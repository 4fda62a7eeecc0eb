"""Who is in front of a display: the audience bucket from recent observations.

Each face in the window votes for its band x gender with a weight of its box
area times its detector score times its gender confidence, so a large, sharp,
confidently classified face near the screen counts more than a small blurry one
at the back. The bucket is the band x gender with the most weight, or ``none``
when no face was seen in the window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from adserver.catalog import ALL_BUCKETS, NO_AUDIENCE, bucket_name

DEFAULT_WINDOW_S = 10.0
# Camera clocks drift; a frame stamped a little in the future still counts.
MAX_CLOCK_SKEW_MS = 5_000


@dataclass(frozen=True)
class Audience:
    """The audience in front of a display over the last ``window_s`` seconds."""

    bucket: str
    faces: int  # the most faces seen in any one frame of the window
    window_s: float
    shares: Mapping[str, float] = field(default_factory=dict)  # bucket -> weight share

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the next-ad response's ``audience``."""
        return {"bucket": self.bucket, "faces": self.faces, "window_s": self.window_s}


def face_weight(face: Mapping[str, Any]) -> float:
    """A face's vote: box area x detector score x gender confidence."""
    _x, _y, width, height = face["box"]
    return max(width, 0) * max(height, 0) * float(face["score"]) * float(face["gender_confidence"])


def audience_from(
    observations: Iterable[Mapping[str, Any]],
    now_ms: int,
    window_s: float = DEFAULT_WINDOW_S,
) -> Audience:
    """Decide the audience bucket from observation records (the issue 3 shape).

    Only ``status == "ok"`` observations captured within ``window_s`` before
    ``now_ms`` count; rejected frames say nothing about who is there.
    """
    oldest_ms, newest_ms = now_ms - window_s * 1000, now_ms + MAX_CLOCK_SKEW_MS
    weights = dict.fromkeys(ALL_BUCKETS, 0.0)
    most_faces = 0
    for observation in observations:
        in_window = oldest_ms <= observation["captured_at_ms"] <= newest_ms
        if observation.get("status") != "ok" or not in_window:
            continue
        faces = observation.get("faces") or []
        most_faces = max(most_faces, len(faces))
        for face in faces:
            bucket = bucket_name(face["age_band"], face["gender"])
            if bucket in weights:
                weights[bucket] += face_weight(face)
    total = sum(weights.values())
    if most_faces == 0 or total <= 0:
        return Audience(bucket=NO_AUDIENCE, faces=0, window_s=window_s)
    # max() keeps the first of equal weights, so ties go to the earlier band in ALL_BUCKETS.
    bucket = max(ALL_BUCKETS, key=lambda name: weights[name])
    shares = {name: weight / total for name, weight in weights.items() if weight > 0}
    return Audience(bucket=bucket, faces=most_faces, window_s=window_s, shares=shares)
