"""Who is in front of a display: the audience bucket from recent observations.

The window's faces are first linked into tracks, camera by camera (``adserver.tracks``,
geometry and time only), so a person seen in twenty frames counts once, like a person seen
in one. Each track votes for its band x gender (the vote of its own faces) with a weight:
how near and clear it is (its faces' mean box area times detector score), times how sure
its gender vote is (``gender_sureness``), times ``LOOKING_WEIGHT`` when it was looking at
the screen when last seen. The bucket is the band x gender with the most weight, or
``none`` when no face was seen in the window. A person whom two cameras of one display
both see counts once, with the say of the clearer view (``adserver.tracks.one_per_person``:
tracks of two cameras that overlap in time and agree in band and gender).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from adserver.catalog import ALL_BUCKETS, NO_AUDIENCE, bucket_name
from adserver.tracks import CameraTracker, OpenTrack, Track, TrackSettings, one_per_person

DEFAULT_WINDOW_S = 10.0
# Camera clocks drift; a frame stamped a little in the future still counts.
MAX_CLOCK_SKEW_MS = 5_000
# A person looking at the screen when last seen counts this many times one who is not.
LOOKING_WEIGHT = 2.0
# In a window of seconds a person seen once is still a person (the tracker's default of two
# sightings is for counting an audience afterwards, where a glimpse is noise).
WINDOW_TRACKING = TrackSettings(min_sightings=1)


@dataclass(frozen=True)
class Audience:
    """The audience in front of a display over the last ``window_s`` seconds."""

    bucket: str
    faces: int  # the most faces seen in any one frame of the window
    window_s: float
    shares: Mapping[str, float] = field(default_factory=dict)  # bucket -> weight share
    people: int = 0  # tracks in the window: each person once, however many frames

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the next-ad response's ``audience``."""
        return {"bucket": self.bucket, "faces": self.faces, "window_s": self.window_s}


def face_weight(face: Mapping[str, Any]) -> float:
    """How near and clear a face is: box area x detector score."""
    _x, _y, width, height = face["box"]
    return max(width, 0) * max(height, 0) * float(face["score"])


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
    frames: dict[str, list[tuple[int, list[Mapping[str, Any]]]]] = defaultdict(list)
    most_faces = 0
    for observation in observations:
        in_window = oldest_ms <= observation["captured_at_ms"] <= newest_ms
        if observation.get("status") != "ok" or not in_window:
            continue
        faces = list(observation.get("faces") or [])
        most_faces = max(most_faces, len(faces))
        camera = f"{observation.get('store')}/{observation.get('camera')}"
        frames[camera].append((int(observation["captured_at_ms"]), faces))
    weighted = [
        pair
        for camera, camera_frames in frames.items()
        for pair in _weighted_tracks(camera, sorted(camera_frames, key=lambda f: f[0]))
    ]
    weight_of = {id(track): weight for track, weight in weighted}
    weights = dict.fromkeys(ALL_BUCKETS, 0.0)
    people = 0
    for person in one_per_person(track for track, _ in weighted):
        # One person, one say: that of the clearest of their cameras' views.
        track = max(person, key=lambda t: weight_of[id(t)])
        bucket = bucket_name(track.age_band, track.gender)
        people += 1
        if bucket in weights:
            weights[bucket] += weight_of[id(track)]
    total = sum(weights.values())
    if most_faces == 0 or total <= 0:
        return Audience(bucket=NO_AUDIENCE, faces=0, window_s=window_s)
    # max() keeps the first of equal weights, so ties go to the earlier band in ALL_BUCKETS.
    bucket = max(ALL_BUCKETS, key=lambda name: weights[name])
    shares = {name: weight / total for name, weight in weights.items() if weight > 0}
    return Audience(
        bucket=bucket, faces=most_faces, window_s=window_s, shares=shares, people=people
    )


def _weighted_tracks(
    camera: str, frames: Iterable[tuple[int, Sequence[Mapping[str, Any]]]]
) -> list[tuple[Track, float]]:
    """Each person in one camera's frames, once, with their say in the audience."""
    tracker = CameraTracker(camera, WINDOW_TRACKING)
    presence: dict[int, list[float]] = {}  # id(open track) -> its faces' weights
    seen: dict[int, OpenTrack] = {}
    for at_ms, faces in frames:
        for open_track, face in zip(tracker.observe(at_ms, faces)[0], faces, strict=True):
            seen[id(open_track)] = open_track
            presence.setdefault(id(open_track), []).append(face_weight(face))
    weighted = []
    for key, open_track in seen.items():
        looking = LOOKING_WEIGHT if open_track.last_looking else 1.0
        nearness = sum(presence[key]) / len(presence[key])
        weight = nearness * gender_sureness(open_track.gender_votes) * looking
        weighted.append((tracker.record(open_track), weight))
    return weighted


def gender_sureness(votes: Mapping[str, float]) -> float:
    """How sure a track's gender vote is, 0.5-1: the logistic of the winner's log-odds margin
    over the rest, so one face at 0.55 is barely sure and five at 0.9 all but certain."""
    if not votes:
        return 0.5
    winner = max(votes.values())
    margin = winner - (sum(votes.values()) - winner)
    return 1 / (1 + math.exp(-max(margin, 0.0)))
