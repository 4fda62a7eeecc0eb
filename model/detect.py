"""The face finder: YuNet (libfacedetection's CNN) over whole frames, batch first.

The network is our Keras port of libfacedetection's YuNet (``model/yunet_keras.py``, its
weights from the C sources, BSD-3-clause), exported to ``artifacts/yunet.tflite``; its
outputs match the ``yuface`` wheel's exactly (``bench/yunet_parity.py``). This module scales
and pads frames, runs the network on a ``model.runtime.Runtime`` (LiteRT on the CPU, Keras
on a GPU) and decodes the raw heads in NumPy as libfacedetection's ``objectdetect_cnn`` and
``detection_output`` do, so scores mean what they mean for the wheel. No TensorFlow here.

One pass finds near and far faces alike: YuNet's three output levels (strides 8, 16, 32)
cover faces from about 16 to several hundred pixels of the network's input, and each face
comes with five landmarks for alignment and head pose.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from model.runtime import Runtime

ARTIFACTS = Path(__file__).parent / "artifacts"
YUNET_TFLITE = ARTIFACTS / "yunet.tflite"


@dataclass(frozen=True)
class Detection:
    """A face in frame pixels: box (x, y, w, h), score, and five landmarks.

    Landmarks, as (x, y): the subject's right eye, left eye, nose tip, right mouth corner,
    left mouth corner (the subject's right is the image's left).
    """

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray  # shape (5, 2)

    @property
    def right_eye(self) -> np.ndarray:
        return self.keypoints[0]

    @property
    def left_eye(self) -> np.ndarray:
        return self.keypoints[1]


# The network's output levels, finest first, and the padding they need.
STRIDES = (8, 16, 32)
ALIGN = 32
# A candidate is a face when libfacedetection's score sqrt(sigmoid(cls) * sigmoid(obj))
# reaches MIN_SCORE; overlaps above IOU_THRESHOLD are suppressed (the C code's NMS). Chosen
# on the tune half of the real photographs and on store scenes of seeds other than the
# benchmark's (model card).
MIN_SCORE = 0.6
IOU_THRESHOLD = 0.45
# Output channels of each level: class logit, objectness logit, box (4), landmarks (10).
_CLS, _OBJ = 0, 1

# Profiles: the smallest face (box width, frame pixels) the finder is asked to find.
DEFAULT_MIN_FACE_PX = 24  # a display-mounted camera, 1280x720, shoppers up to about 6 m away
NEAR_MIN_FACE_PX = 64  # close range only (about 2.5 m on 1280x720): cheaper
# YuNet finds faces about this wide in its input as reliably as larger ones (recall 0.93 at
# 24-48 px on the real photographs' tune half when they reach it at 32 px or more; 0.89 at 24),
# so a frame is scaled to put a ``min_face_px`` face there...
NETWORK_FACE_PX = 32.0
# ...but its cost is proportional to the pixels it reads: a frame is never scaled past these
# (a 1280x720 frame is read at its own size, a small photo enlarged).
MAX_NETWORK_PIXELS = 1_000_000
MAX_SCALE = 2.0


def network_scale(width: int, height: int, min_face_px: float) -> float:
    """The scale a frame is read at for faces down to ``min_face_px``: such a face lands at
    ``NETWORK_FACE_PX``, within the pixel and enlargement bounds."""
    scale = min(MAX_SCALE, NETWORK_FACE_PX / max(min_face_px, 1.0))
    return min(scale, math.sqrt(MAX_NETWORK_PIXELS / (width * height)))


def padded_shape(height: int, width: int) -> tuple[int, int]:
    """The network input (height, width) for an image: each side up to a multiple of 32."""
    return -(-height // ALIGN) * ALIGN, -(-width // ALIGN) * ALIGN


def resized(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """An RGB uint8 image resampled to ``width`` x ``height``.

    Shrinking averages pixel areas, as OpenCV's INTER_AREA does (integer factors on
    Pillow's faster ``reduce``); enlarging is bilinear.
    Pillow, not OpenCV, so that the inference function's image carries no OpenCV.
    """
    source_h, source_w = rgb.shape[:2]
    if (width, height) == (source_w, source_h):
        return rgb
    image = Image.fromarray(rgb)
    if width > source_w or height > source_h:
        return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR))
    factor_x, factor_y = source_w / width, source_h / height
    if factor_x == factor_y and factor_x.is_integer():
        return np.asarray(image.reduce(int(factor_x)))
    return np.asarray(image.resize((width, height), Image.Resampling.BOX))


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter + 1e-9)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # The C code clamps to +-88.38 so that exp cannot overflow float32.
    return 1.0 / (1.0 + np.exp(-np.clip(x, -88.3762626647949, 88.3762626647949)))


def decode(
    raw_outputs: Sequence[np.ndarray],
    input_shape: tuple[int, int],
    min_score: float = MIN_SCORE,
    iou_threshold: float = IOU_THRESHOLD,
) -> list[Detection]:
    """Faces from one image's raw heads, in network-input pixels, best score first.

    ``raw_outputs`` holds the (H/s, W/s, 16) outputs for strides 8, 16 and 32, in that
    order (one image, no batch axis); ``input_shape`` is the (height, width) the network
    saw. Score is libfacedetection's ``sqrt(sigmoid(cls) * sigmoid(obj))``; greedy NMS as in
    its ``detection_output``. No cap on the number of faces.
    """
    height, width = input_shape
    scores, boxes, keypoints = [], [], []
    for stride, raw in zip(STRIDES, raw_outputs, strict=True):
        rows, cols = height // stride, width // stride
        if raw.shape[:2] != (rows, cols):
            raise ValueError(
                f"stride {stride}: raw output {raw.shape[:2]}, expected {(rows, cols)}"
            )
        level = raw.reshape(rows * cols, -1)
        score = np.sqrt(_sigmoid(level[:, _CLS]) * _sigmoid(level[:, _OBJ]))
        keep = np.flatnonzero(score >= min_score)
        if keep.size == 0:
            continue
        level = level[keep]
        # Anchor points sit on the top-left corner of each cell (the C code's meshgrid).
        prior = np.stack([keep % cols, keep // cols], axis=-1).astype(np.float32) * stride
        centre = level[:, 2:4] * stride + prior
        size = np.exp(level[:, 4:6]) * stride
        boxes.append(np.concatenate([centre - size / 2, centre + size / 2], axis=-1))
        keypoints.append(level[:, 6:16].reshape(-1, 5, 2) * stride + prior[:, np.newaxis])
        scores.append(score[keep])
    if not scores:
        return []
    score = np.concatenate(scores)
    corners = np.concatenate(boxes)
    points = np.concatenate(keypoints)
    return [
        Detection(
            box=(
                float(corners[i, 0]),
                float(corners[i, 1]),
                float(corners[i, 2] - corners[i, 0]),
                float(corners[i, 3] - corners[i, 1]),
            ),
            score=float(score[i]),
            keypoints=points[i].astype(np.float64),
        )
        for i in _nms(corners, score, iou_threshold)
    ]


def _nms(corners: np.ndarray, score: np.ndarray, iou_threshold: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression, best score first."""
    # A stable sort like the C code's stable_sort, so ties keep the stride-8-first order.
    order = np.argsort(-score, kind="stable")
    areas = (corners[:, 2] - corners[:, 0]) * (corners[:, 3] - corners[:, 1])
    kept: list[int] = []
    while order.size:
        best, rest = int(order[0]), order[1:]
        kept.append(best)
        left = np.maximum(corners[best, 0], corners[rest, 0])
        top = np.maximum(corners[best, 1], corners[rest, 1])
        right = np.minimum(corners[best, 2], corners[rest, 2])
        bottom = np.minimum(corners[best, 3], corners[rest, 3])
        inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
        iou = inter / (areas[best] + areas[rest] - inter)
        order = rest[iou <= iou_threshold]
    return kept


def _rescaled(detection: Detection, factor_x: float, factor_y: float) -> Detection:
    """A detection from network-input pixels mapped to frame pixels."""
    x, y, w, h = detection.box
    return Detection(
        box=(x * factor_x, y * factor_y, w * factor_x, h * factor_y),
        score=detection.score,
        keypoints=detection.keypoints * (factor_x, factor_y),
    )


class FaceFinder:
    """YuNet over whole frames. Frames that scale to one input shape share a network call,
    so the GPU worker's batches and the Lambda's single frames run the same code."""

    def __init__(
        self,
        network: Runtime,
        min_face_px: float = DEFAULT_MIN_FACE_PX,
        min_score: float = MIN_SCORE,
        iou_threshold: float = IOU_THRESHOLD,
    ) -> None:
        self.network = network
        self.min_face_px = min_face_px
        self.min_score = min_score
        self.iou_threshold = iou_threshold

    def find(self, rgb: np.ndarray, min_face_px: float | None = None) -> list[Detection]:
        """All faces in an RGB uint8 frame, best score first."""
        return self.find_batch([rgb], [min_face_px])[0]

    def find_batch(
        self, frames: Sequence[np.ndarray], min_face_px: Sequence[float | None] | None = None
    ) -> list[list[Detection]]:
        """The faces of each frame, each looked for down to its ``min_face_px`` (None: the
        finder's own), in the frames' order."""
        limits = list(min_face_px) if min_face_px is not None else [None] * len(frames)
        scales = [
            network_scale(rgb.shape[1], rgb.shape[0], limit or self.min_face_px)
            for rgb, limit in zip(frames, limits, strict=True)
        ]
        return self.find_at_scales(frames, scales)

    def find_at_scales(
        self, frames: Sequence[np.ndarray], scales: Sequence[float]
    ) -> list[list[Detection]]:
        """The faces of each frame read at the given scale (benchmarks and tests choose it;
        ``find_batch`` derives it from the face size looked for)."""
        sizes = []
        for rgb, scale in zip(frames, scales, strict=True):
            height, width = rgb.shape[:2]
            sizes.append((max(1, round(height * scale)), max(1, round(width * scale))))
        found: list[list[Detection]] = [[] for _ in frames]
        by_shape: dict[tuple[int, int], list[int]] = {}
        for index, size in enumerate(sizes):
            by_shape.setdefault(padded_shape(*size), []).append(index)
        for (pad_h, pad_w), members in by_shape.items():
            # Zeros beyond the image, as libfacedetection pads.
            batch = np.zeros((len(members), pad_h, pad_w, 3), np.float32)
            for slot, index in zip(batch, members, strict=True):
                net_h, net_w = sizes[index]
                slot[:net_h, :net_w] = resized(frames[index], net_w, net_h)
            outputs = self.network(batch)
            raw = [outputs[f"stride_{stride}"] for stride in STRIDES]
            for position, index in enumerate(members):
                faces = decode(
                    [level[position] for level in raw],
                    (pad_h, pad_w),
                    self.min_score,
                    self.iou_threshold,
                )
                height, width = frames[index].shape[:2]
                net_h, net_w = sizes[index]
                if (net_h, net_w) != (height, width):
                    faces = [_rescaled(f, width / net_w, height / net_h) for f in faces]
                found[index] = faces
        return found


def new_face_finder(
    num_threads: int = 1,
    min_face_px: float = DEFAULT_MIN_FACE_PX,
    runtime: str = "litert",
) -> FaceFinder:
    """A face finder with a network of its own (one per thread that finds faces).

    ``runtime`` ``keras`` runs the Keras port with the shipped weights (the GPU worker).
    """
    from model.runtime import KerasRuntime, LiteRtRuntime

    if runtime == "keras":
        from model.yunet_keras import load_yunet

        return FaceFinder(KerasRuntime(load_yunet()), min_face_px)
    return FaceFinder(LiteRtRuntime(YUNET_TFLITE, num_threads), min_face_px)


@cache
def load_face_finder(num_threads: int = 1, min_face_px: float = DEFAULT_MIN_FACE_PX) -> FaceFinder:
    """The process-wide face finder; its network loads once, on first use."""
    return new_face_finder(num_threads, min_face_px)
