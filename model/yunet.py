"""YuNet face detection (libfacedetection's CNN) on the LiteRT interpreter.

The network is our Keras port (``model/yunet_keras.py``) exported by
``python -m model export-yunet``; this module only pads the frame, runs the
interpreter and decodes the raw heads in NumPy, exactly as libfacedetection's
``objectdetect_cnn`` and ``detection_output`` do, so that scores and thresholds
mean what they mean for the ``yuface`` wheel. No TensorFlow here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from model.detect import Detection, resized

DEFAULT_PATH = Path(__file__).parent / "artifacts" / "yunet.tflite"
STRIDES = (8, 16, 32)
ALIGN = 32  # the coarsest level's stride: inputs are padded to a multiple of it
# libfacedetection's own defaults (objectdetect_cnn): it keeps candidates with
# sqrt(cls * obj) >= 0.2 and suppresses overlaps above 0.45 IoU.
MIN_SCORE = 0.5
IOU_THRESHOLD = 0.45
# Output channels of each level: class logit, objectness logit, box (4), keypoints (10).
_CLS, _OBJ, _BOX, _KPS = 0, 1, slice(2, 6), slice(6, 16)


def padded_shape(height: int, width: int) -> tuple[int, int]:
    """The network input (height, width) for an image: each side up to a multiple of 32."""
    return -(-height // ALIGN) * ALIGN, -(-width // ALIGN) * ALIGN


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # The C code clamps to +-88.38 so that exp cannot overflow float32.
    return 1.0 / (1.0 + np.exp(-np.clip(x, -88.3762626647949, 88.3762626647949)))


def decode(
    raw_outputs: list[np.ndarray],
    input_shape: tuple[int, int],
    min_score: float = MIN_SCORE,
    iou_threshold: float = IOU_THRESHOLD,
) -> list[Detection]:
    """Faces from one image's raw heads, in network-input pixels, best score first.

    ``raw_outputs`` holds the (H/s, W/s, 16) outputs for strides 8, 16 and 32, in
    that order (one image, no batch axis); ``input_shape`` is the (height, width)
    the network saw. Score is libfacedetection's ``sqrt(sigmoid(cls) *
    sigmoid(obj))``; boxes are (x, y, w, h); keypoints (5, 2) are the subject's
    right eye, left eye, nose tip, right and left mouth corners. Greedy NMS as in
    ``detection_output``: a box is dropped when its IoU with a kept, better box
    exceeds ``iou_threshold``. No cap on the number of faces.
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
        # Anchor points sit on the top-left corner of each cell (meshgrid, offset 0).
        prior = np.stack([keep % cols, keep // cols], axis=-1).astype(np.float32) * stride
        centre = level[:, 2:4] * stride + prior
        size = np.exp(level[:, 4:6]) * stride
        boxes.append(np.concatenate([centre - size / 2, centre + size / 2], axis=-1))
        keypoints.append(level[:, _KPS].reshape(-1, 5, 2) * stride + prior[:, np.newaxis])
        scores.append(score[keep])
    if not scores:
        return []
    score = np.concatenate(scores)
    corners = np.concatenate(boxes)
    points = np.concatenate(keypoints)
    kept = _nms(corners, score, iou_threshold)
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
        for i in kept
    ]


def _nms(corners: np.ndarray, score: np.ndarray, iou_threshold: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression, best score first."""
    # Stable sort like the C code's stable_sort, so ties keep the stride-8-first order.
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


class YuNet:
    """YuNet over whole frames on the LiteRT interpreter, any frame size.

    ``scale`` shrinks (or enlarges) the frame before the network, trading the
    smallest face found for speed: YuNet's finest anchors are 8 px apart, and the
    returned boxes are mapped back to frame pixels. One interpreter is kept per
    input shape, at most ``max_shapes`` (cameras rarely change size).
    """

    def __init__(
        self,
        path: Path = DEFAULT_PATH,
        num_threads: int = 1,
        scale: float = 1.0,
        max_shapes: int = 4,
    ) -> None:
        if scale <= 0:
            raise ValueError(f"scale must be positive, not {scale}")
        self.model_content = Path(path).read_bytes()
        self.num_threads = num_threads
        self.scale = scale
        self.max_shapes = max_shapes
        self._runners: dict[tuple[int, int, int], tuple[Interpreter, int, list[int]]] = {}

    def _runner(self, batch: int, height: int, width: int) -> tuple[Interpreter, int, list[int]]:
        key = (batch, height, width)
        if key not in self._runners:
            if len(self._runners) >= self.max_shapes:  # forget the oldest shape
                self._runners.pop(next(iter(self._runners)))
            interpreter = Interpreter(
                model_content=self.model_content, num_threads=self.num_threads
            )
            source = interpreter.get_input_details()[0]["index"]
            interpreter.resize_tensor_input(source, [batch, height, width, 3])
            interpreter.allocate_tensors()
            # Finest level first: the stride-8 output has the most cells.
            outputs = sorted(interpreter.get_output_details(), key=lambda d: -int(d["shape"][1]))
            self._runners[key] = (interpreter, source, [d["index"] for d in outputs])
        return self._runners[key]

    def network_size(self, height: int, width: int) -> tuple[int, int]:
        """The (height, width) a frame is resampled to before padding."""
        return max(1, round(height * self.scale)), max(1, round(width * self.scale))

    def raw_outputs(self, images: np.ndarray) -> list[np.ndarray]:
        """The network's (N, H/s, W/s, 16) outputs, strides 8, 16, 32, for padded images."""
        batch, height, width = images.shape[:3]
        interpreter, source, outputs = self._runner(batch, height, width)
        interpreter.set_tensor(source, images.astype(np.float32, copy=False))
        interpreter.invoke()
        return [interpreter.get_tensor(index) for index in outputs]

    def detect(
        self, rgb: np.ndarray, min_score: float = MIN_SCORE, iou_threshold: float = IOU_THRESHOLD
    ) -> list[Detection]:
        """Faces in an RGB uint8 frame, in its own pixels, best score first."""
        return self.detect_batch([rgb], min_score, iou_threshold)[0]

    def detect_batch(
        self,
        frames: list[np.ndarray],
        min_score: float = MIN_SCORE,
        iou_threshold: float = IOU_THRESHOLD,
    ) -> list[list[Detection]]:
        """Faces in each of several same-size RGB uint8 frames, in one interpreter call."""
        if not frames:
            return []
        frame_h, frame_w = frames[0].shape[:2]
        if any(f.shape[:2] != (frame_h, frame_w) for f in frames):
            raise ValueError("detect_batch needs frames of one size")
        net_h, net_w = self.network_size(frame_h, frame_w)
        pad_h, pad_w = padded_shape(net_h, net_w)
        # Zeros beyond the image, as libfacedetection pads.
        batch = np.zeros((len(frames), pad_h, pad_w, 3), np.float32)
        for slot, frame in zip(batch, frames, strict=True):
            slot[:net_h, :net_w] = resized(frame, net_w, net_h)
        raw = self.raw_outputs(batch)
        factor_x, factor_y = frame_w / net_w, frame_h / net_h
        found = []
        for i in range(len(frames)):
            faces = decode([r[i] for r in raw], (pad_h, pad_w), min_score, iou_threshold)
            if (factor_x, factor_y) != (1.0, 1.0):
                faces = [_rescaled(face, factor_x, factor_y) for face in faces]
            found.append(faces)
        return found
