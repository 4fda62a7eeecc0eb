"""Who is in front of each display right now: the tracker's open tracks of its cameras.

A person counts as present while their track is open and was seen within ``recent_s`` of
now: the tracker closes a track ``end_after_s`` after its last sighting and runs a second or
two behind the cameras, so a track last seen longer ago than that is someone leaving, whom
the next sweep will count among the people who have left. As the tracker does, a face seen
once is not yet a person. A person seen by two cameras of one display is counted by each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from adserver.play_audience import MIN_SIGHTINGS, PresenceReader
from adserver.registry import Display

# The tracker's end_after_s (3 s) plus the pipeline's delay from capture to open track.
RECENT_S = 10.0


@dataclass(frozen=True)
class PresentNow:
    """People in view now, and those of them whose last sighting was looking at the screen."""

    present: int = 0
    looking: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"present": self.present, "looking": self.looking}


def camera_now(
    presence: PresenceReader, camera_key: str, now_ms: int, recent_s: float = RECENT_S
) -> PresentNow:
    """The people one camera ("{store}/{camera}") has in view at ``now_ms``."""
    present = looking = 0
    for track in _open(presence.open_tracks(camera_key)):
        if int(track.get("seen", 0)) < MIN_SIGHTINGS:
            continue
        if now_ms - int(track["last_at_ms"]) > recent_s * 1000:
            continue
        present += 1
        looking += bool(track.get("last_looking", False))
    return PresentNow(present, looking)


def store_now(
    presence: PresenceReader,
    displays: Iterable[Display],
    cameras: Iterable[str],
    now_ms: int,
    recent_s: float = RECENT_S,
) -> dict[str, Any]:
    """Per camera of the store and per display (the sum of its cameras), who is in view."""
    by_camera = {key: camera_now(presence, key, now_ms, recent_s) for key in sorted(cameras)}
    by_display: dict[str, dict[str, Any]] = {}
    for display in sorted(displays, key=lambda d: d.display_id):
        seen = [
            by_camera.get(key) or camera_now(presence, key, now_ms, recent_s)
            for key in display.cameras
        ]
        by_display[display.display_id] = {
            "present": sum(s.present for s in seen),
            "looking": sum(s.looking for s in seen),
            "cameras": list(display.cameras),
        }
    return {
        "displays": by_display,
        "cameras": {key: now.to_dict() for key, now in by_camera.items()},
    }


def _open(state: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(state.get("open", []))
