"""Who was in front of a display while an ad played: the people and watchers present.

Counted when the play's impression arrives, from the tracks of the display's cameras: the
people whose tracks closed after the play began and started before it ended, and those
still in view (the tracker's open tracks) who arrived before it ended. A person seen by two
of the display's cameras at once counts once (``adserver.tracks.one_per_person``), a watcher
if they looked for ``watcher_looking_s`` on either. The tracker holds a camera's newest few
seconds of frames back to link them in order (``lambdas.tracker.timeline``), so someone who
arrived in the play's last seconds may be missed: the count errs low, never twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from adserver.tracks import CameraTracker, OpenTrack, Track, one_per_person

# A closed track that started this long before a play cannot overlap it (dwell is capped).
LONGEST_DWELL_MS = 3_600_000
MIN_SIGHTINGS = 2  # as the tracker: a face seen once is not counted as a person


class PresenceReader(Protocol):
    """The tracks table, as the tracker writes it (``lambdas.tracker.store``)."""

    def tracks(self, camera_key: str, since_ms: int, until_ms: int) -> list[Track]: ...

    def open_tracks(self, camera_key: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class PlayAudience:
    people: int = 0
    watchers: int = 0


def play_audience(
    presence: PresenceReader,
    cameras: Iterable[str],
    started_ms: int,
    ended_ms: int,
    watcher_looking_s: float = 1.0,
) -> PlayAudience:
    """The people and watchers the display's ``cameras`` saw during [started_ms, ended_ms]."""
    present: list[Track] = []
    for camera_key in cameras:
        for track in presence.tracks(camera_key, started_ms - LONGEST_DWELL_MS, ended_ms + 1):
            if track.ended_at_ms >= started_ms:
                present.append(track)
        tracker = CameraTracker(camera_key)
        for open_track in _open(presence.open_tracks(camera_key)):
            seen = int(open_track.get("seen", 0))
            started, last = int(open_track["started_at_ms"]), int(open_track["last_at_ms"])
            if seen >= MIN_SIGHTINGS and started <= ended_ms and last >= started_ms:
                present.append(tracker.record(OpenTrack.from_state(open_track)))
    people = one_per_person(present)
    watchers = sum(any(t.looking_s >= watcher_looking_s for t in person) for person in people)
    return PlayAudience(len(people), watchers)


def audience_counter(
    presence: PresenceReader | None, cameras: Iterable[str]
) -> Callable[[int, int], tuple[int, int]] | None:
    """``play_audience`` of these cameras as (people, watchers) for a play's start and end
    (what ``adserver.impressions.record_play`` takes); None without tracks to count from."""
    if presence is None:
        return None
    reader, watched = presence, tuple(cameras)

    def count(started_ms: int, ended_ms: int) -> tuple[int, int]:
        seen = play_audience(reader, watched, started_ms, ended_ms)
        return seen.people, seen.watchers

    return count


def _open(state: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(state.get("open", []))
