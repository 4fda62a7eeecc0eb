"""Link a batch of observations into tracks, camera by camera, carrying open tracks over;
and the scheduled sweep that settles every camera by the clock.

For each camera in a stream batch: restore its timeline (open tracks and held frames,
``lambdas.tracker.timeline``), hold the new observations, link what has settled in capture
order, write the people whose tracks ended, save the rest. The sweep does the same with no
new observations for every camera someone is in view of, so the people before a quiet spell
are counted within a minute or so whether or not the camera sends again.

The stream and the sweep may settle one camera at once: each saves its state only over the
version it read and otherwise starts again from the state that won. People are written
before the state (a track's key is fixed when it starts, and its put is conditional), so a
person that both close, or that a retry closes again, is written and counted once.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from adserver.tracks import Track, TrackSettings
from lambdas.observations import Observation
from lambdas.tracker.store import StateChanged, TrackStore
from lambdas.tracker.timeline import CameraTimeline, Timing

# Settling one camera restarts this often when someone else saves it first, then gives up
# (the batch fails and is retried; a sweep tries again a minute later).
SETTLE_ATTEMPTS = 5


class SettleContention(RuntimeError):
    """A camera's state kept changing under us on every attempt."""


@dataclass(frozen=True)
class TrackerDependencies:
    store: TrackStore
    settings: TrackSettings
    clock: Callable[[], float] = time.time
    timing: Timing = field(default_factory=Timing)


@dataclass(frozen=True)
class BatchOutcome:
    cameras: int
    frames: int  # observations linked into tracks
    skipped: int  # rejected frames, and frames already held (a retried batch)
    people: list[Track]
    late: int = 0  # arrived after their camera had settled past them: not linked
    held: int = 0  # still held back at the end, to be linked in order later


def track_observations(
    observations: Iterable[Observation], deps: TrackerDependencies
) -> BatchOutcome:
    """Hold each camera's new observations, link what has settled; return who left."""
    by_camera: dict[str, list[Observation]] = defaultdict(list)
    for observation in observations:
        by_camera[observation.camera_key].append(observation)
    outcomes = [settle_camera(key, found, deps) for key, found in sorted(by_camera.items())]
    return _summed(outcomes, cameras=len(by_camera))


def sweep(deps: TrackerDependencies) -> BatchOutcome:
    """Settle every camera with someone in view or frames held, by the clock alone."""
    cameras = deps.store.cameras_to_sweep()
    return _summed([settle_camera(key, [], deps) for key in cameras], cameras=len(cameras))


def settle_camera(
    camera_key: str, observations: Sequence[Observation], deps: TrackerDependencies
) -> BatchOutcome:
    """One camera: hold ``observations``, link what has settled by now, write who left."""
    for _ in range(SETTLE_ATTEMPTS):
        now_s = deps.clock()
        now_ms = round(now_s * 1000)
        state, version = deps.store.open_state(camera_key)
        timeline = CameraTimeline.from_state(camera_key, state, deps.settings, deps.timing)
        late = skipped = 0
        for observation in sorted(observations, key=lambda o: o.captured_at_ms):
            # A rejected frame was not looked at: it says nothing about who was there.
            faces = observation.faces if observation.status == "ok" else None
            received = timeline.receive(observation.captured_at_ms, faces, now_ms)
            late += received.late
            skipped += received.repeated + (faces is None and not received.late)
        frames, people = timeline.settle(now_ms)
        if not observations and not frames and not people and not timeline.is_idle:
            # A sweep that changed nothing has nothing to save.
            return BatchOutcome(cameras=1, frames=0, skipped=0, people=[], held=len(timeline.held))
        deps.store.put_tracks(camera_key, people)
        try:
            deps.store.save_open_tracks(
                camera_key, timeline.to_state(), int(now_s), version, due=not timeline.is_idle
            )
        except StateChanged:
            continue
        return BatchOutcome(1, frames, skipped, people, late=late, held=len(timeline.held))
    raise SettleContention(f"{camera_key}: state kept changing for {SETTLE_ATTEMPTS} attempts")


def _summed(outcomes: Sequence[BatchOutcome], cameras: int) -> BatchOutcome:
    return BatchOutcome(
        cameras=cameras,
        frames=sum(o.frames for o in outcomes),
        skipped=sum(o.skipped for o in outcomes),
        people=[person for o in outcomes for person in o.people],
        late=sum(o.late for o in outcomes),
        held=sum(o.held for o in outcomes),
    )
