"""Link a batch of observations into tracks, camera by camera, carrying open tracks over.

The observations table's stream delivers each camera's records in order (one partition key
per camera), in batches. For each camera in a batch: restore its open tracks, feed it the
new observations, write the people whose tracks ended, save what is still open.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from adserver.tracks import CameraTracker, Track, TrackSettings
from lambdas.observations import Observation
from lambdas.tracker.store import TrackStore


@dataclass(frozen=True)
class TrackerDependencies:
    store: TrackStore
    settings: TrackSettings
    clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class BatchOutcome:
    cameras: int
    frames: int  # observations linked
    skipped: int  # already seen (a retried batch) or rejected frames
    people: list[Track]


def track_observations(
    observations: Iterable[Observation], deps: TrackerDependencies
) -> BatchOutcome:
    """Feed each camera's new observations to its tracker; return the people who left."""
    by_camera: dict[str, list[Observation]] = defaultdict(list)
    for observation in observations:
        by_camera[observation.camera_key].append(observation)
    frames = skipped = 0
    people: list[Track] = []
    for camera_key, camera_observations in sorted(by_camera.items()):
        tracker = CameraTracker.from_state(
            camera_key, deps.store.open_tracks(camera_key), deps.settings
        )
        ended: list[Track] = []
        for observation in sorted(camera_observations, key=lambda o: o.captured_at_ms):
            already_seen = (
                tracker.last_at_ms is not None and observation.captured_at_ms <= tracker.last_at_ms
            )
            # A rejected frame was not looked at: it says nothing about who was there.
            if already_seen or observation.status != "ok":
                skipped += 1
                continue
            ended += tracker.observe(observation.captured_at_ms, observation.faces)[1]
            frames += 1
        # People first: if saving the open tracks fails, the retried batch writes them again.
        deps.store.put_tracks(camera_key, ended)
        deps.store.save_open_tracks(camera_key, tracker.to_state(), int(deps.clock()))
        people += ended
    return BatchOutcome(cameras=len(by_camera), frames=frames, skipped=skipped, people=people)
