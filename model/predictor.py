"""The serving predictor: frames in, faces with age and gender out. No TensorFlow here.

Everything downstream (the inference Lambda, the GPU worker, the CLI) calls
``load_predictor()``: ``predict_batch(frames)`` is the only cascade, and ``predict(frame)``
is a batch of one. The networks run on a ``model.runtime.Runtime``: LiteRT on the CPU,
Keras on a GPU (``load_predictor(runtime="keras")``); nothing else differs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from model.align import align_face
from model.attention import head_pose
from model.bands import GENDERS, age_band
from model.confidence import apply_temperature, temperature_for
from model.detect import Detection, FaceFinder, new_face_finder
from model.runtime import KerasRuntime, LiteRtRuntime, Runtime

ARTIFACTS = Path(__file__).parent / "artifacts"
DEFAULT_MODEL = ARTIFACTS / "age_gender.tflite"


@dataclass(frozen=True)
class Face:
    """One face in a frame. ``box`` is (x, y, w, h) in frame pixels."""

    box: tuple[int, int, int, int]
    score: float
    age: float
    age_band: str
    gender: str
    gender_confidence: float
    # Head yaw in degrees and whether it faces the screen (model.attention); keypoints are not kept.
    yaw: float | None = None
    looking: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        face = asdict(self)
        face["box"] = list(self.box)
        return face


RuntimeName = Literal["litert", "keras"]


class AgeGenderModel:
    """The age/gender network on a runtime: aligned crops in, ages and P(female) out."""

    def __init__(self, network: Runtime) -> None:
        self._network = network

    def predict(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ages in years and probabilities of female for a batch of uint8 crops."""
        if len(crops) == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.float32)
        result = self._network(crops)
        return result["age"][:, 0], result["gender"][:, 0]


class Predictor:
    """Find every face in a frame, align it, and predict its age and gender."""

    def __init__(
        self,
        finder: FaceFinder,
        model: AgeGenderModel,
        model_version: str,
        test_time_flip: bool = False,
        gender_temperatures: list[list[float]] | None = None,
    ) -> None:
        self.finder = finder
        self.model = model
        self.model_version = model_version
        self.test_time_flip = test_time_flip
        # [[upper face width, temperature], ...]: see model.confidence.
        self.gender_temperatures = gender_temperatures or []

    def predict_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ages and P(female) for aligned crops, averaging over a mirror image if enabled."""
        if not self.test_time_flip:
            return self.model.predict(crops)
        ages, female = self.model.predict(np.concatenate([crops, crops[:, :, ::-1]]))
        n = len(crops)
        return (ages[:n] + ages[n:]) / 2, (female[:n] + female[n:]) / 2

    def calibrated_female(self, p_female: np.ndarray, face_px: np.ndarray) -> np.ndarray:
        """P(female) rescaled by the temperature fitted for each face's width."""
        if not self.gender_temperatures:
            return p_female
        temperatures = np.array([temperature_for(w, self.gender_temperatures) for w in face_px])
        return apply_temperature(p_female, temperatures)

    def predict(self, rgb: np.ndarray, min_face_px: float | None = None) -> list[Face]:
        """All faces in an RGB uint8 frame, best detection score first.

        ``min_face_px`` (default: the finder's) is the smallest face width looked for.
        """
        return self.predict_batch([rgb], [min_face_px])[0]

    def predict_batch(
        self, frames: Sequence[np.ndarray], min_face_px: Sequence[float | None] | None = None
    ) -> list[list[Face]]:
        """The faces of each frame, in the frames' order, best detection score first; the
        finder's network sees frames of one size together, the age/gender network every
        face of the batch in one call."""
        limits = list(min_face_px) if min_face_px is not None else [None] * len(frames)
        if len(limits) != len(frames):
            raise ValueError(f"{len(frames)} frames but {len(limits)} min_face_px values")
        found = self.finder.find_batch(frames, limits)
        crops = [align_face(rgb, d) for rgb, ds in zip(frames, found, strict=True) for d in ds]
        if not crops:
            return [[] for _ in frames]
        ages, female = self.predict_crops(np.stack(crops))
        female = self.calibrated_female(female, np.array([d.box[2] for ds in found for d in ds]))
        faces: list[list[Face]] = []
        start = 0
        for rgb, detections in zip(frames, found, strict=True):
            end = start + len(detections)
            faces.append(_faces(rgb.shape, detections, ages[start:end], female[start:end]))
            start = end
        return faces


def _faces(
    shape: tuple[int, ...], detections: list[Detection], ages: np.ndarray, female: np.ndarray
) -> list[Face]:
    """One frame's faces from its detections and their network outputs."""
    height, width = shape[:2]
    faces = []
    for detection, age, p_female in zip(detections, ages, female, strict=True):
        x, y, w, h = detection.box
        left, top = max(0, round(x)), max(0, round(y))
        right, bottom = min(width, round(x + w)), min(height, round(y + h))
        is_female = bool(p_female >= 0.5)
        years = float(max(0.0, age))
        pose = head_pose(detection.keypoints, detection.box)
        faces.append(
            Face(
                box=(left, top, right - left, bottom - top),
                score=round(detection.score, 4),
                age=round(years, 1),
                age_band=age_band(years),
                gender=GENDERS[int(is_female)],
                gender_confidence=round(float(p_female if is_female else 1 - p_female), 4),
                yaw=pose.yaw,
                looking=pose.looking,
            )
        )
    return faces


@cache
def load_predictor(
    model_path: Path = DEFAULT_MODEL, num_threads: int = 1, runtime: RuntimeName = "litert"
) -> Predictor:
    """The process-wide predictor; the finder and network load once, on first use.

    The model's version and serving options come from the JSON card beside it. ``runtime``
    ``keras`` runs both networks from their ``.keras`` files (the GPU worker); the code
    around the calls is the same.
    """
    if not model_path.exists():
        raise FileNotFoundError(f"no age/gender model at {model_path}")
    card = json.loads(model_path.with_suffix(".json").read_text())
    network: Runtime = (
        KerasRuntime(model_path.with_suffix(".keras"))
        if runtime == "keras"
        else LiteRtRuntime(model_path, num_threads)
    )
    return Predictor(
        new_face_finder(num_threads, runtime=runtime),
        AgeGenderModel(network),
        model_version=card["model_version"],
        test_time_flip=card.get("test_time_flip", False),
        gender_temperatures=card.get("gender_temperatures"),
    )
