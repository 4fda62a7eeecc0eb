"""In-memory stand-ins for what the pipeline talks to, so unit tests need no model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adserver.rollups import InMemoryRollups, track_increment


@dataclass(frozen=True)
class FakeFace:
    box: tuple[int, int, int, int] = (10, 20, 64, 64)
    score: float = 0.93
    age: float = 29.4
    age_band: str = "young_adult"
    gender: str = "female"
    gender_confidence: float = 0.91

    def to_dict(self) -> dict[str, Any]:
        return {
            "box": list(self.box),
            "score": self.score,
            "age": self.age,
            "age_band": self.age_band,
            "gender": self.gender,
            "gender_confidence": self.gender_confidence,
        }


@dataclass
class FakePredictor:
    """Returns the same faces for every frame and remembers the frame shapes it saw."""

    faces: tuple[FakeFace, ...] = (FakeFace(),)
    model_version: str = "fake-predictor-1"
    seen_shapes: list[tuple[int, ...]] = field(default_factory=list)
    seen_min_face_px: list[float | None] = field(default_factory=list)

    def predict(self, rgb: Any, min_face_px: float | None = None) -> list[FakeFace]:
        self.seen_shapes.append(tuple(rgb.shape))
        self.seen_min_face_px.append(min_face_px)
        return list(self.faces)


def rollup_records(impressions=(), tracks=(), watcher_looking_s=1.0):
    """The hourly rollup records that these plays and people add up to (adserver.rollups)."""
    rollups = InMemoryRollups()
    for impression in impressions:
        rollups.add(impression.rollup_increment())
    for track in tracks:
        rollups.add(track_increment(track, watcher_looking_s))
    return [dict(record) for _, record in sorted(rollups.records.items())]
