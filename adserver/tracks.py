"""Short-lived tracks: the faces of one camera's consecutive observations linked into people.

An observation is one frame's faces; a person standing in front of a display for
ten seconds at 2 frames per second is twenty faces. A track links them from
geometry and time alone: where each box is, how large, where the track was
heading, and how long ago it was seen. Nothing that could recognise a person
later (no embedding, no pixels) is used or kept, and a track ends after a few
seconds unseen, so a person who walks out and back in is two tracks.

Association, frame by frame: each open track predicts where its face is now
(constant velocity from its last two sightings), each (track, face) pair inside
the track's gate gets a cost, and the pairs are taken cheapest first (greedy).
The gate is measured in face widths, so it holds for near and far people alike,
widens with the time since the track was seen, and is wide for a track seen
once (it has no velocity yet: a walking person moves several face widths
between two frames at 2 frames per second). A face and a track whose sizes
differ by more than ``max_size_ratio`` are not the same person: two people who
cross at different distances keep their tracks.

A closed track is a :class:`Track`: camera, start and end, the confidence-weighted
vote of its faces for age band and gender, how sure the gender vote is, how
many times it was seen, how long it stayed (dwell) and how long it looked at
the screen (each face's ``looking``, from ``model.attention``). A watcher is a
track that looked for at least ``watcher_looking_s`` in all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Gender confidences are clipped here before they become log-odds: a single frame claiming
# certainty must not outvote a dozen that disagree with it.
MAX_FACE_CONFIDENCE = 0.99
# A track's velocity is this much its previous estimate and the rest its latest step.
VELOCITY_MEMORY = 0.2


@dataclass(frozen=True)
class TrackSettings:
    """How faces are linked into tracks, and what counts as a person and a watcher."""

    end_after_s: float = 3.0  # a track unseen this long has left
    gate_widths: float = 1.5  # how far from its predicted place a face may be, in face widths
    gate_growth_widths_per_s: float = 3.0  # the gate widens as a track goes unseen
    first_step_widths_per_s: float = 10.0  # a track seen once may move this fast (brisk walk)
    first_step_within_s: float = 1.1  # and must be seen again this soon (one frame missed)
    vertical_weight: float = 4.0  # people move across a frame far more than up or down it
    max_size_ratio: float = 1.5  # a face this much larger or smaller is someone else
    min_sightings: int = 2  # fewer: a false detection or a glimpse, not a person
    max_frame_interval_s: float = 1.0  # the most one frame may stand for (dwell and looking)
    watcher_looking_s: float = 1.0

    def __post_init__(self) -> None:
        if self.end_after_s <= 0 or self.gate_widths <= 0 or self.max_size_ratio <= 1:
            raise ValueError("end_after_s and gate_widths must be positive, max_size_ratio > 1")
        if self.min_sightings < 1:
            raise ValueError("min_sightings must be at least 1")


@dataclass(frozen=True)
class Track:
    """One person's pass in front of one camera: the only thing kept about them."""

    camera: str  # "{store}/{camera}"
    started_at_ms: int
    ended_at_ms: int
    age_band: str
    gender: str
    vote_confidence: float  # the winning gender's share of the vote's weight, 0.5-1
    seen: int  # faces linked into the track
    dwell_s: float
    looking_s: float
    # The face's place in its first frame: keeps apart two tracks that start in one frame.
    first_face: int = 0

    @property
    def sort_key(self) -> str:
        """Unique per camera, in start order: ``{started_at_ms:013d}#{first_face}``."""
        return f"{self.started_at_ms:013d}#{self.first_face}"

    def is_watcher(self, settings: TrackSettings) -> bool:
        return self.looking_s >= settings.watcher_looking_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "camera": self.camera,
            "started_at_ms": self.started_at_ms,
            "ended_at_ms": self.ended_at_ms,
            "age_band": self.age_band,
            "gender": self.gender,
            "vote_confidence": self.vote_confidence,
            "seen": self.seen,
            "dwell_s": self.dwell_s,
            "looking_s": self.looking_s,
            "first_face": self.first_face,
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Track:
        """Rebuild from ``to_dict`` output or a DynamoDB item (numbers may be Decimals)."""
        return cls(
            camera=str(record["camera"]),
            started_at_ms=int(record["started_at_ms"]),
            ended_at_ms=int(record["ended_at_ms"]),
            age_band=str(record["age_band"]),
            gender=str(record["gender"]),
            vote_confidence=float(record["vote_confidence"]),
            seen=int(record["seen"]),
            dwell_s=float(record["dwell_s"]),
            looking_s=float(record["looking_s"]),
            first_face=int(record.get("first_face", 0)),
        )


Box = tuple[float, float, float, float]  # x, y, w, h in frame pixels


@dataclass
class OpenTrack:
    """A track still in view: where it was, where it is heading, and its running votes."""

    started_at_ms: int
    last_at_ms: int
    box: Box
    velocity: tuple[float, float] | None = None  # centre, pixels per second
    seen: int = 0
    gender_votes: dict[str, float] = field(default_factory=dict)
    band_votes: dict[str, float] = field(default_factory=dict)
    last_looking: bool = False
    first_looking: bool = False
    looking_s: float = 0.0  # between its first and last sightings
    first_face: int = 0
    frame_interval_s: float = 0.5  # the camera's, while the track was seen

    def to_state(self) -> dict[str, Any]:
        """JSON-ready: what the tracker needs to carry the track into its next batch."""
        return {
            "started_at_ms": self.started_at_ms,
            "last_at_ms": self.last_at_ms,
            "box": list(self.box),
            "velocity": None if self.velocity is None else list(self.velocity),
            "seen": self.seen,
            "gender_votes": dict(self.gender_votes),
            "band_votes": dict(self.band_votes),
            "last_looking": self.last_looking,
            "first_looking": self.first_looking,
            "looking_s": self.looking_s,
            "first_face": self.first_face,
            "frame_interval_s": self.frame_interval_s,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> OpenTrack:
        x, y, w, h = (float(v) for v in state["box"])
        velocity = state.get("velocity")
        return cls(
            started_at_ms=int(state["started_at_ms"]),
            last_at_ms=int(state["last_at_ms"]),
            box=(x, y, w, h),
            velocity=None if velocity is None else (float(velocity[0]), float(velocity[1])),
            seen=int(state["seen"]),
            gender_votes={k: float(v) for k, v in state["gender_votes"].items()},
            band_votes={k: float(v) for k, v in state["band_votes"].items()},
            last_looking=bool(state["last_looking"]),
            first_looking=bool(state["first_looking"]),
            looking_s=float(state["looking_s"]),
            first_face=int(state.get("first_face", 0)),
            frame_interval_s=float(state.get("frame_interval_s", 0.5)),
        )

    def predicted_centre(self, at_ms: int) -> tuple[float, float]:
        x, y, w, h = self.box
        cx, cy = x + w / 2, y + h / 2
        if self.velocity is None:
            return cx, cy
        dt = (at_ms - self.last_at_ms) / 1000
        return cx + self.velocity[0] * dt, cy + self.velocity[1] * dt


def link_cost(track: OpenTrack, box: Box, at_ms: int, settings: TrackSettings) -> float | None:
    """How unlikely it is that ``box`` at ``at_ms`` is ``track``'s face: 0 (exactly where
    predicted, same size) to about 1 at the gate's edge; None outside the gate."""
    width = max(1.0, math.sqrt(track.box[2] * box[2]))
    ratio = box[2] / max(track.box[2], 1e-9)
    if not 1 / settings.max_size_ratio <= ratio <= settings.max_size_ratio:
        return None
    dt = max(0.0, (at_ms - track.last_at_ms) / 1000)
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2

    x, y, w, h = track.box
    last = (x + w / 2, y + h / 2)
    if track.velocity is None:
        # Seen once: it may have walked off in any direction, at a walking pace at most, but
        # not for long: a face seen once and then not for a second was most likely no face.
        if dt > settings.first_step_within_s:
            return None
        nearest, growth = last, settings.first_step_widths_per_s
    else:
        # Anywhere from where it was (it stopped) to where it was heading (it kept going).
        nearest = _nearest_on_segment((cx, cy), last, track.predicted_centre(at_ms))
        growth = settings.gate_growth_widths_per_s
    dx = (cx - nearest[0]) / width
    dy = (cy - nearest[1]) / width * settings.vertical_weight
    distance = math.hypot(dx, dy) / (settings.gate_widths + growth * dt)
    if distance > 1:
        return None
    return distance + abs(math.log(ratio)) / math.log(settings.max_size_ratio)


def _nearest_on_segment(
    point: tuple[float, float], start: tuple[float, float], end: tuple[float, float]
) -> tuple[float, float]:
    sx, sy = end[0] - start[0], end[1] - start[1]
    length = sx * sx + sy * sy
    if length == 0:
        return start
    along = ((point[0] - start[0]) * sx + (point[1] - start[1]) * sy) / length
    along = min(1.0, max(0.0, along))
    return start[0] + along * sx, start[1] + along * sy


def associate(
    tracks: Sequence[OpenTrack], boxes: Sequence[Box], at_ms: int, settings: TrackSettings
) -> dict[int, int]:
    """Face index -> track index for the faces of one frame; each used at most once,
    cheapest pairs first. Faces left out start tracks of their own."""
    pairs = []
    for t, track in enumerate(tracks):
        for f, box in enumerate(boxes):
            cost = link_cost(track, box, at_ms, settings)
            if cost is not None:
                pairs.append((cost, t, f))
    links: dict[int, int] = {}
    taken: set[int] = set()
    for _, t, f in sorted(pairs):
        if f not in links and t not in taken:
            links[f] = t
            taken.add(t)
    return links


def vote(weights: Mapping[str, float]) -> tuple[str, float]:
    """The label with the most weight and its share of all the weight (0.5-1 for two labels)."""
    if not weights:
        raise ValueError("no votes")
    label = max(sorted(weights), key=lambda name: weights[name])
    total = sum(weights.values())
    return label, (weights[label] / total if total > 0 else 1.0)


def gender_weight(confidence: float) -> float:
    """A face's say in its track's gender: the log-odds of its confidence, so that a 0.9 face
    counts for about four 0.6 faces, and a 0.5 face (a coin toss) for nothing."""
    p = min(max(float(confidence), 0.5), MAX_FACE_CONFIDENCE)
    return math.log(p / (1 - p))


def _face_box(face: Mapping[str, Any]) -> Box:
    x, y, w, h = (float(v) for v in face["box"])
    return (x, y, w, h)


class CameraTracker:
    """The open tracks of one camera, fed its observations in capture order."""

    def __init__(self, camera: str, settings: TrackSettings | None = None) -> None:
        self.camera = camera
        self.settings = settings or TrackSettings()
        self.open: list[OpenTrack] = []
        self.last_at_ms: int | None = None
        self.frame_interval_s = 0.5  # until two frames have been seen

    def observe(
        self, at_ms: int, faces: Sequence[Mapping[str, Any]]
    ) -> tuple[list[OpenTrack], list[Track]]:
        """Link one frame's faces (observation face records) into the open tracks.

        Returns the open track of each face, and the people whose tracks ended (unseen for
        ``end_after_s``) before this frame.
        """
        if self.last_at_ms is not None:
            if at_ms < self.last_at_ms:
                raise ValueError(f"{self.camera}: frame at {at_ms} is older than {self.last_at_ms}")
            if at_ms > self.last_at_ms:
                self.frame_interval_s = min(
                    (at_ms - self.last_at_ms) / 1000, self.settings.max_frame_interval_s
                )
        self.last_at_ms = at_ms
        ended = self.close_idle(at_ms)
        boxes = [_face_box(face) for face in faces]
        links = associate(self.open, boxes, at_ms, self.settings)
        placed: list[OpenTrack] = []
        for index, (face, box) in enumerate(zip(faces, boxes, strict=True)):
            if index in links:
                track = self.open[links[index]]
            else:
                track = OpenTrack(started_at_ms=at_ms, last_at_ms=at_ms, box=box, first_face=index)
                self.open.append(track)
            self._add(track, at_ms, box, face)
            placed.append(track)
        return placed, ended

    def _add(self, track: OpenTrack, at_ms: int, box: Box, face: Mapping[str, Any]) -> None:
        looking = bool(face.get("looking", False))
        if track.seen:
            dt = (at_ms - track.last_at_ms) / 1000
            if dt > 0:
                x, y, w, h = track.box
                measured = (
                    (box[0] + box[2] / 2 - x - w / 2) / dt,
                    (box[1] + box[3] / 2 - y - h / 2) / dt,
                )
                # Mostly the latest step: people speed up and stop within a second or two,
                # and box noise (a few pixels) is small against a step at walking pace.
                keep = 0.0 if track.velocity is None else VELOCITY_MEMORY
                previous = track.velocity or (0.0, 0.0)
                track.velocity = (
                    keep * previous[0] + (1 - keep) * measured[0],
                    keep * previous[1] + (1 - keep) * measured[1],
                )
            # Between two sightings the head is taken to turn at an even pace.
            track.looking_s += dt * (int(track.last_looking) + int(looking)) / 2
        else:
            track.first_looking = looking
        track.box, track.last_at_ms, track.last_looking = box, at_ms, looking
        track.frame_interval_s = self.frame_interval_s
        track.seen += 1
        gender = str(face["gender"])
        track.gender_votes[gender] = track.gender_votes.get(gender, 0.0) + gender_weight(
            float(face["gender_confidence"])
        )
        # A band has no confidence of its own: each face's detection score weighs it.
        band = str(face["age_band"])
        track.band_votes[band] = track.band_votes.get(band, 0.0) + float(face.get("score", 1.0))

    def close_idle(self, now_ms: int) -> list[Track]:
        """End the tracks unseen for ``end_after_s`` by ``now_ms``; return the people among them."""
        limit = self.settings.end_after_s * 1000
        ending = [t for t in self.open if now_ms - t.last_at_ms > limit]
        self.open = [t for t in self.open if now_ms - t.last_at_ms <= limit]
        return self._people(ending)

    def finish(self) -> list[Track]:
        """End every open track (the camera stopped); return the people among them."""
        ending, self.open = self.open, []
        return self._people(ending)

    def _people(self, ending: Iterable[OpenTrack]) -> list[Track]:
        return [
            self.record(t)
            for t in sorted(ending, key=lambda t: t.started_at_ms)
            if t.seen >= self.settings.min_sightings
        ]

    def record(self, track: OpenTrack) -> Track:
        """What is kept of a track: its votes and durations, never where its face was."""
        gender, confidence = vote(track.gender_votes)
        band, _ = vote(track.band_votes)
        # Each end of the track stands for half a frame interval of presence.
        edge_s = track.frame_interval_s / 2
        dwell_s = (track.last_at_ms - track.started_at_ms) / 1000 + 2 * edge_s
        looking_s = track.looking_s + edge_s * (int(track.first_looking) + int(track.last_looking))
        return Track(
            camera=self.camera,
            started_at_ms=track.started_at_ms,
            ended_at_ms=track.last_at_ms,
            age_band=band,
            gender=gender,
            vote_confidence=round(confidence, 3),
            seen=track.seen,
            dwell_s=round(dwell_s, 2),
            looking_s=round(looking_s, 2),
            first_face=track.first_face,
        )

    def to_state(self) -> dict[str, Any]:
        """The open tracks and the camera's clock, JSON-ready, to resume in a later invocation.

        It holds the last box of each person still in view (for at most ``end_after_s``
        after they leave) and their running votes: no pixels, nothing kept once they go.
        """
        return {
            "last_at_ms": self.last_at_ms,
            "frame_interval_s": self.frame_interval_s,
            "open": [track.to_state() for track in self.open],
        }

    @classmethod
    def from_state(
        cls, camera: str, state: Mapping[str, Any], settings: TrackSettings | None = None
    ) -> CameraTracker:
        tracker = cls(camera, settings)
        last = state.get("last_at_ms")
        tracker.last_at_ms = None if last is None else int(last)
        tracker.frame_interval_s = float(state.get("frame_interval_s", tracker.frame_interval_s))
        tracker.open = [OpenTrack.from_state(track) for track in state.get("open", [])]
        return tracker


def one_per_person(tracks: Iterable[Track]) -> list[list[Track]]:
    """The tracks of one display's cameras grouped into people: a person seen by two of its
    cameras is one group.

    The rule: tracks on different cameras whose times overlap (first to last sighting) and
    that agree in age band and gender are one person; a group holds at most one track per
    camera. Tracks are taken in start order, each joining the group it overlaps longest.
    Limits: two people of one band and gender, each seen by only one of the cameras at the
    same time, count once; a person whose band or gender the cameras read differently, or
    who walks from one camera's view into the other's without being seen by both at once,
    counts twice. Nothing but time, band and gender is compared: no face is recognised.
    """
    groups: list[list[Track]] = []
    for track in sorted(tracks, key=lambda t: (t.started_at_ms, t.camera, t.first_face)):
        best, best_overlap = None, -1
        for group in groups:
            if any(member.camera == track.camera for member in group):
                continue
            if (group[0].age_band, group[0].gender) != (track.age_band, track.gender):
                continue
            overlap = max(_overlap_ms(member, track) for member in group)
            if overlap >= 0 and overlap > best_overlap:
                best, best_overlap = group, overlap
        if best is None:
            groups.append([track])
        else:
            best.append(track)
    return groups


def _overlap_ms(a: Track, b: Track) -> int:
    """How long two tracks overlap (0: they touch), negative when they do not."""
    return min(a.ended_at_ms, b.ended_at_ms) - max(a.started_at_ms, b.started_at_ms)


def track_frames(
    camera: str,
    frames: Iterable[tuple[int, Sequence[Mapping[str, Any]]]],
    settings: TrackSettings | None = None,
) -> list[Track]:
    """Every person in one camera's frames (capture time in ms, face records), in start order."""
    tracker = CameraTracker(camera, settings)
    people = []
    for at_ms, faces in frames:
        people += tracker.observe(at_ms, faces)[1]
    people += tracker.finish()
    return sorted(people, key=lambda t: t.started_at_ms)
