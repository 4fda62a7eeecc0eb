"""Many frames in, their faces out: the predictor of ``model.predictor`` with the age/gender
network called once for every face of a batch of frames.

What runs where:

- The face finder (BlazeFace) runs either as ``model.detect.FaceFinder`` on LiteRT, on the
  CPU, one frame per call (``litert``; with ``detector_threads`` > 1 several frames at once,
  each thread with its own interpreters, which are not thread-safe), or as
  ``batched_finder.BatchedFaceFinder`` on the Keras definition of BlazeFace (``keras``):
  one full-range call per input shape and one short-range call for all frames and looks.
- The age/gender network sees every aligned face of the batch in one call, either through
  the shipped ``.tflite`` (``litert``, its batch dimension resized per call) or through the
  trained ``.keras`` model (``keras``): Keras 3 runs it on whatever backend ``KERAS_BACKEND``
  names, so the same file runs on PyTorch with CUDA on a GPU machine, and on TensorFlow's CPU
  kernels here. Importing Keras is this module's business only; the Lambda never imports it.

Faces come out exactly as ``Predictor.predict`` makes them (the parity test holds the two
together): same boxes, rounding, calibration and head pose.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from model.align import align_face
from model.attention import head_pose
from model.bands import GENDERS, age_band
from model.detect import Detection, new_face_finder
from model.predictor import ARTIFACTS, DEFAULT_MODEL, AgeGenderModel, Face, Predictor

if TYPE_CHECKING:
    from infra.gpu_worker.batched_finder import BatchedFaceFinder

Runtime = Literal["litert", "keras"]
KERAS_MODEL = ARTIFACTS / "age_gender.keras"


class BatchPredictor(Protocol):
    """What the worker needs: faces for many frames per call (and one, as FacePredictor)."""

    model_version: str

    def predict_batch(
        self, frames: Sequence[np.ndarray], min_face_px: Sequence[float | None]
    ) -> list[list[Face]]: ...

    def predict(self, rgb: np.ndarray, min_face_px: float | None = None) -> list[Face]: ...


class KerasAgeGender(AgeGenderModel):
    """The trained ``.keras`` network on Keras 3's configured backend, as ``AgeGenderModel``."""

    # A subclass so that Predictor takes it; it shares the interface, not the LiteRT set-up.
    def __init__(self, path: Path = KERAS_MODEL) -> None:
        import keras  # late: only the worker's keras runtime pays for it

        network = keras.saving.load_model(path, compile=False)
        self._network = keras.Model(
            network.input, {"age": network.output["age"], "gender": network.output["gender"]}
        )

    def predict(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ages in years and probabilities of female for a batch of uint8 crops."""
        if len(crops) == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.float32)
        import keras

        # A direct call, not predict_on_batch: TensorFlow's compiled predict function was seen
        # to crash (SIGSEGV) beside LiteRT interpreters in one process; the eager call does not.
        result = self._network(crops.astype(np.float32), training=False)
        age, gender = (keras.ops.convert_to_numpy(result[k]) for k in ("age", "gender"))
        return age[:, 0], gender[:, 0]


class BatchedPredictor:
    """``Predictor`` over many frames: faces found per frame, age and gender in one batch."""

    def __init__(
        self,
        predictor: Predictor,
        detector_threads: int = 1,
        batched_finder: BatchedFaceFinder | None = None,
    ) -> None:
        """``batched_finder`` (Keras BlazeFace) replaces the predictor's LiteRT finder."""
        self._predictor = predictor
        self._batched_finder = batched_finder
        self.model_version = predictor.model_version
        self._detector_threads = max(1, detector_threads)
        self._finders = threading.local()
        self._pool = (
            ThreadPoolExecutor(self._detector_threads, thread_name_prefix="face-finder")
            if self._detector_threads > 1
            else None
        )

    def predict(self, rgb: np.ndarray, min_face_px: float | None = None) -> list[Face]:
        """All faces in one frame (the FacePredictor interface)."""
        return self.predict_batch([rgb], [min_face_px])[0]

    def predict_batch(
        self, frames: Sequence[np.ndarray], min_face_px: Sequence[float | None]
    ) -> list[list[Face]]:
        """The faces of each frame, in the frames' order, best detection score first."""
        if len(frames) != len(min_face_px):
            raise ValueError(f"{len(frames)} frames but {len(min_face_px)} min_face_px values")
        if self._batched_finder is not None:
            found = self._batched_finder.find_batch(frames, min_face_px)
        elif self._pool is None:
            found = [self._find(rgb, px) for rgb, px in zip(frames, min_face_px, strict=True)]
        else:
            found = list(self._pool.map(self._find, frames, min_face_px))
        crops = [align_face(rgb, d) for rgb, ds in zip(frames, found, strict=True) for d in ds]
        if not crops:
            return [[] for _ in frames]
        ages, female = self._predictor.predict_crops(np.stack(crops))
        widths = np.array([d.box[2] for ds in found for d in ds])
        female = self._predictor.calibrated_female(female, widths)
        faces: list[list[Face]] = []
        start = 0
        for rgb, detections in zip(frames, found, strict=True):
            end = start + len(detections)
            faces.append(_faces(rgb.shape, detections, ages[start:end], female[start:end]))
            start = end
        return faces

    def _find(self, rgb: np.ndarray, min_face_px: float | None) -> list[Detection]:
        if self._pool is None:
            return self._predictor.finder.find(rgb, min_face_px=min_face_px)
        finder = getattr(self._finders, "finder", None)
        if finder is None:
            shared = self._predictor.finder
            finder = new_face_finder(1, shared.min_face_px)
            self._finders.finder = finder
        return finder.find(rgb, min_face_px=min_face_px)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()


def _faces(
    shape: tuple[int, ...], detections: list[Detection], ages: np.ndarray, female: np.ndarray
) -> list[Face]:
    # The same construction as Predictor.predict, which builds it inline for one frame.
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


def load_batch_predictor(
    age_gender: Runtime = "litert",
    detector: Runtime = "litert",
    detector_threads: int = 1,
    model_path: Path = DEFAULT_MODEL,
) -> BatchedPredictor:
    """The worker's predictor: ``model.predictor.load_predictor``'s card and calibration,
    with the face finder and the age/gender network each on the chosen runtime."""
    from model.predictor import load_predictor

    serving = load_predictor(model_path)
    if age_gender == "keras":
        serving = Predictor(
            serving.finder,
            KerasAgeGender(model_path.with_suffix(".keras")),
            model_version=serving.model_version,
            test_time_flip=serving.test_time_flip,
            gender_temperatures=serving.gender_temperatures,
        )
    batched_finder = None
    if detector == "keras":
        from infra.gpu_worker.batched_finder import BatchedFaceFinder

        batched_finder = BatchedFaceFinder(serving.finder.min_face_px)
    return BatchedPredictor(serving, detector_threads, batched_finder)
