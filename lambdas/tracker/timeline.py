"""One camera's frames put back in capture order before they are linked into tracks.

Frames of one camera are processed in parallel (several Lambda instances, several GPU worker
fetchers), so their observations reach the tracker out of capture order, and a camera that
uploads a burst delivers seconds of frames at once. The tracker (``adserver.tracks``) needs
them in order, so a camera's newest frames are held back and handed over, oldest first, once
no older frame can still be on its way. That moment is the camera's *horizon*: every frame
captured up to it has been linked, and the tracks unseen for ``end_after_s`` by then have
ended, whether or not the camera sends again (the scheduled sweep moves it on by the clock).

Two assumptions place the horizon (``Timing``), both on the tracker's own clock:

* ``hold_s``: a frame arrives at most this long after a frame captured later than it. A
  frame that has been here ``hold_s`` therefore settles everything captured before it.
* ``lag_s``: once a camera has sent nothing for ``hold_s``, a frame arrives at most this
  long later than the quickest frame of that camera did (its capture time to its arrival,
  whatever the camera's clock says). A quiet camera therefore settles up to its clock now,
  less ``lag_s``. While frames keep arriving (a live stream, a burst of uploads however long
  it spans) only the first rule moves the horizon.

A frame that arrives at or before the horizon is too late: it is counted (``late``) and
dropped, never linked into a track that has already ended, so a person is never counted
twice because their last frame came late. Limits: frames that arrive after a pause of over
``hold_s`` and were captured over ``lag_s`` before the camera's newest, or frames of a camera
whose clock steps back, are late until the camera catches up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from adserver.tracks import CameraTracker, Track, TrackSettings

# What the tracker reads of a face; the rest of the record is not held.
HELD_FACE_FIELDS = ("box", "score", "age_band", "gender", "gender_confidence", "looking")


@dataclass(frozen=True)
class Timing:
    """How long a camera's frames are held back (see the module docstring)."""

    hold_s: float = 5.0
    lag_s: float = 10.0

    def __post_init__(self) -> None:
        if self.hold_s < 0 or self.lag_s < self.hold_s:
            raise ValueError("hold_s must be at least 0 and lag_s at least hold_s")


@dataclass(frozen=True)
class HeldFrame:
    """A frame received but not yet linked: its capture time, arrival, and faces."""

    at_ms: int
    arrived_ms: int
    faces: tuple[dict[str, Any], ...]

    def to_state(self) -> dict[str, Any]:
        return {"at_ms": self.at_ms, "arrived_ms": self.arrived_ms, "faces": list(self.faces)}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> HeldFrame:
        faces = tuple(_plain_face(face) for face in state["faces"])
        return cls(int(state["at_ms"]), int(state["arrived_ms"]), faces)


@dataclass(frozen=True)
class Received:
    """What became of the frames handed to :meth:`CameraTimeline.receive`."""

    held: int = 0
    late: int = 0  # captured at or before the horizon: too late to link
    repeated: int = 0  # already held (a retried batch)


@dataclass
class CameraTimeline:
    """A camera's tracker, the frames held back from it, and how far it has settled."""

    tracker: CameraTracker
    timing: Timing = field(default_factory=Timing)
    held: list[HeldFrame] = field(default_factory=list)
    horizon_ms: int | None = None
    # The camera's clock less ours, less its quickest frame's delay: max(captured - arrived).
    clock_offset_ms: int | None = None
    last_arrived_ms: int | None = None  # on our clock

    def receive(
        self, at_ms: int, faces: Sequence[Mapping[str, Any]] | None, arrived_ms: int
    ) -> Received:
        """Hold one frame until it can be linked in order; ``faces`` None for a frame that was
        not looked at (rejected): it says nothing about who was there, only what time it is."""
        offset = at_ms - arrived_ms
        self.clock_offset_ms = (
            offset if self.clock_offset_ms is None else max(self.clock_offset_ms, offset)
        )
        self.last_arrived_ms = max(self.last_arrived_ms or arrived_ms, arrived_ms)
        if self.horizon_ms is not None and at_ms <= self.horizon_ms:
            return Received(late=1)
        if faces is None:
            return Received()
        if any(frame.at_ms == at_ms for frame in self.held):
            return Received(repeated=1)
        frame = HeldFrame(at_ms, arrived_ms, tuple(_plain_face(face) for face in faces))
        self.held.append(frame)
        self.held.sort(key=lambda held: held.at_ms)
        return Received(held=1)

    def horizon(self, now_ms: int) -> int | None:
        """How far the camera has settled by ``now_ms``: the newest capture time up to which
        no frame can still arrive (None before its first frame)."""
        candidates = [] if self.horizon_ms is None else [self.horizon_ms]
        hold_ms, lag_ms = round(self.timing.hold_s * 1000), round(self.timing.lag_s * 1000)
        candidates += [f.at_ms for f in self.held if f.arrived_ms <= now_ms - hold_ms]
        quiet = self.last_arrived_ms is not None and now_ms - self.last_arrived_ms >= hold_ms
        if quiet and self.clock_offset_ms is not None:
            candidates.append(now_ms + self.clock_offset_ms - lag_ms)
        return max(candidates, default=None)

    def settle(self, now_ms: int) -> tuple[int, list[Track]]:
        """Link the held frames up to the horizon in capture order and end the tracks unseen
        for ``end_after_s`` by then; return how many frames were linked and who left."""
        horizon = self.horizon(now_ms)
        if horizon is None:
            return 0, []
        ready = [frame for frame in self.held if frame.at_ms <= horizon]
        self.held = [frame for frame in self.held if frame.at_ms > horizon]
        people: list[Track] = []
        for frame in ready:
            people += self.tracker.observe(frame.at_ms, frame.faces)[1]
        people += self.tracker.close_idle(horizon)
        self.horizon_ms = horizon
        return len(ready), people

    @property
    def is_idle(self) -> bool:
        """Nothing held and no one in view: a sweep has nothing to do here."""
        return not self.held and not self.tracker.open

    def to_state(self) -> dict[str, Any]:
        """JSON-ready, to resume in a later invocation: the tracker's open tracks (the last
        box of each person still in view) and the few seconds of held frames' faces."""
        return {
            **self.tracker.to_state(),
            "held": [frame.to_state() for frame in self.held],
            "horizon_ms": self.horizon_ms,
            "clock_offset_ms": self.clock_offset_ms,
            "last_arrived_ms": self.last_arrived_ms,
        }

    @classmethod
    def from_state(
        cls,
        camera: str,
        state: Mapping[str, Any],
        settings: TrackSettings | None = None,
        timing: Timing | None = None,
    ) -> CameraTimeline:
        horizon = state.get("horizon_ms")
        offset = state.get("clock_offset_ms")
        return cls(
            tracker=CameraTracker.from_state(camera, state, settings),
            timing=timing or Timing(),
            held=[HeldFrame.from_state(frame) for frame in state.get("held", [])],
            # A state saved before frames were held: the tracker's last frame is settled.
            horizon_ms=int(horizon)
            if horizon is not None
            else _int_or_none(state.get("last_at_ms")),
            clock_offset_ms=None if offset is None else int(offset),
            last_arrived_ms=_int_or_none(state.get("last_arrived_ms")),
        )


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _plain_face(face: Mapping[str, Any]) -> dict[str, Any]:
    """The fields the tracker reads, as JSON numbers (a stream image holds Decimals)."""
    return {key: _plain(face[key]) for key in HELD_FACE_FIELDS if key in face}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
