"""Store scenes with ground truth: the far-field benchmark (``python -m model bench-scenes``).

A display's camera sits on top of the screen; the people it should count stand
1.5 to 6 metres away. On a 1280x720 frame from a 70-degree camera a face at 2 m
is about 75 pixels wide, at 4 m about 37, at 6 m about 25. Each scene is such a
frame: a procedurally drawn store (floor, wall, shelves of products, uneven
light), zero to five shoppers whose faces are **validation-split** images (never
a training face) with a torso under them, at widths drawn across every distance
bucket, some at the frame's edges, then the camera: blur, dim light and a tone
curve, sensor noise and JPEG at quality 35-60.

Every frame goes through the serving path as bytes (decode, find, align,
predict), one core, and is scored by face-width bucket: recall, false faces per
frame, gender accuracy, age MAE and the gender confidence's calibration (ECE).
The store drawing shares no code with the training degradations
(``model/degrade.py``), so the benchmark does not grade the model on its own
training distribution.
"""

from __future__ import annotations

import io
import itertools
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image

from model.confidence import FACE_PX_BUCKETS, bucket_name
from model.dataset import LabelledImage
from model.detect import box_iou
from model.images import decode_image

# Face widths drawn for the benchmark: log-uniform over every bucket, so each is populated.
MIN_BENCH_FACE_PX, MAX_BENCH_FACE_PX = 18.0, 240.0
MATCH_IOU = 0.3


@dataclass(frozen=True)
class TruthFace:
    """A face placed in a scene: its box (x, y, w, h) in frame pixels and its labels."""

    box: tuple[float, float, float, float]
    age: int
    gender: int
    name: str


@dataclass
class Scene:
    jpeg: bytes
    width: int
    height: int
    faces: list[TruthFace] = field(default_factory=list)


def _store_background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A shop interior: wall and floor, shelves of coloured products, pillars, ceiling lights."""
    horizon = int(height * rng.uniform(0.45, 0.7))
    wall = rng.integers(90, 230, 3).astype(np.float32)
    floor = rng.integers(40, 180, 3).astype(np.float32)
    image: np.ndarray = np.empty((height, width, 3), np.float32)
    image[:horizon] = wall
    ramp = np.linspace(0.8, 1.2, height - horizon, dtype=np.float32)[:, None, None]
    image[horizon:] = floor * ramp
    for _ in range(rng.integers(1, 4)):  # shelving units along the wall
        x0 = int(rng.integers(-width // 4, width))
        shelf_w = int(rng.integers(width // 6, width // 2))
        top = int(rng.integers(height // 10, horizon // 2 + 1))
        image[top:horizon, max(0, x0) : x0 + shelf_w] = rng.integers(30, 120, 3)
        for y in range(top + 6, horizon - 12, int(rng.integers(28, 60))):
            x = max(0, x0) + 4
            while x < min(width, x0 + shelf_w) - 8:
                box_w, box_h = int(rng.integers(8, 30)), int(rng.integers(12, 26))
                image[y : y + box_h, x : x + box_w] = rng.integers(0, 255, 3)
                x += box_w + int(rng.integers(1, 5))
            image[y + 26 : y + 30, max(0, x0) : x0 + shelf_w] = 200
    for _ in range(rng.integers(0, 3)):  # pillars and doorways
        x0, pillar_w = int(rng.integers(0, width)), int(rng.integers(20, 90))
        image[:, x0 : x0 + pillar_w] = rng.integers(60, 240, 3)
    # Uneven light: a bright pool somewhere, falling off towards the corners.
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = rng.uniform(0, width), rng.uniform(0, height * 0.6)
    fall = np.exp(-(((xs - cx) / width) ** 2 + ((ys - cy) / height) ** 2) * rng.uniform(0.5, 2.5))
    image *= (0.55 + 0.45 * fall)[..., None]
    image += rng.normal(0, 3, (height, width, 1))  # texture
    return np.clip(image, 0, 255).astype(np.uint8)


def _person(
    frame: np.ndarray,
    chip: np.ndarray,
    chip_box: tuple[float, float, float, float],
    face_px: float,
    centre: tuple[float, float],
    tilt_deg: float,
    rng: np.random.Generator,
) -> tuple[float, float, float, float]:
    """Draw a torso and paste the face so its box is ``face_px`` wide at ``centre``; its box."""
    height, width = frame.shape[:2]
    scale = face_px / chip_box[2]
    cx, cy = centre
    # Shoulders and torso under the head, in a clothing colour.
    torso_w, torso_h = face_px * 2.6, face_px * 3.5
    top = int(cy + face_px * 0.55)
    cv2.ellipse(
        frame,
        (int(cx), int(top + torso_h / 2)),
        (max(1, int(torso_w / 2)), max(1, int(torso_h / 2))),
        0,
        0,
        360,
        tuple(int(c) for c in rng.integers(0, 255, 3)),
        -1,
    )
    # The chip, scaled and tilted about the face centre, blended in through an oval mask.
    chip_cx = chip_box[0] + chip_box[2] / 2
    chip_cy = chip_box[1] + chip_box[3] / 2
    matrix = cv2.getRotationMatrix2D((chip_cx, chip_cy), tilt_deg, scale)
    matrix[0, 2] += cx - chip_cx
    matrix[1, 2] += cy - chip_cy
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    warped = cv2.warpAffine(chip, matrix, (width, height), flags=interpolation)
    mask: np.ndarray = np.zeros(chip.shape[:2], np.float32)
    axes = (int(chip.shape[1] * 0.47), int(chip.shape[0] * 0.5))
    cv2.ellipse(mask, (chip.shape[1] // 2, chip.shape[0] // 2), axes, 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), chip.shape[0] * 0.03)
    alpha = cv2.warpAffine(mask, matrix, (width, height), flags=cv2.INTER_LINEAR)[..., None]
    frame[:] = (frame * (1 - alpha) + warped * alpha).round().astype(np.uint8)
    box_w, box_h = chip_box[2] * scale, chip_box[3] * scale
    return (cx - box_w / 2, cy - box_h / 2, box_w, box_h)


def _camera(frame: np.ndarray, rng: np.random.Generator) -> bytes:
    """Optics, exposure, sensor and encoder of a cheap store camera; JPEG bytes out."""
    image: np.ndarray = frame.astype(np.float32)
    sigma = rng.uniform(0.0, 1.0)
    if sigma > 0.2:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    gain, gamma = rng.uniform(0.45, 1.05), rng.uniform(0.85, 1.2)
    image = 255.0 * np.power(np.clip(image * gain / 255.0, 0, 1), gamma)
    image += rng.normal(0, rng.uniform(1.5, 7.0), (*image.shape[:2], 1))
    image += rng.normal(0, 1.5, image.shape)
    out = Image.fromarray(np.clip(image, 0, 255).round().astype(np.uint8))
    buffer = io.BytesIO()
    out.save(buffer, format="JPEG", quality=int(rng.integers(35, 61)))
    return buffer.getvalue()


def make_scenes(
    faces: Sequence[tuple[LabelledImage, np.ndarray, tuple[float, float, float, float]]],
    n_frames: int,
    seed: int = 7,
    size: tuple[int, int] = (1280, 720),
    empty_fraction: float = 0.1,
) -> list[Scene]:
    """``n_frames`` store frames; ``faces`` are (labels, chip, the chip's face box) to place."""
    rng = np.random.default_rng(seed)
    width, height = size
    resolution = width / 1280  # face widths are drawn for a 1280-wide frame
    pool = itertools.cycle(rng.permutation(len(faces)))
    scenes = []
    for _ in range(n_frames):
        frame = _store_background(width, height, rng)
        people = 0 if rng.random() < empty_fraction else int(rng.integers(1, 6))
        placed: list[TruthFace] = []
        # Far people first, so nearer ones are drawn over their torsos.
        widths = sorted(
            math.exp(rng.uniform(math.log(MIN_BENCH_FACE_PX), math.log(MAX_BENCH_FACE_PX)))
            * resolution
            for _ in range(people)
        )
        for face_px in widths:
            for _attempt in range(20):
                # Anywhere, edges included, as long as the whole face is in the frame.
                margin = face_px * 0.75
                cx = rng.uniform(margin, width - margin)
                cy = rng.uniform(margin, max(margin + 1, height - margin * 1.5))
                # This (nearer) person's head and torso must leave every face drawn so far visible.
                body = (cx - face_px * 1.4, cy - face_px / 2, face_px * 2.8, height)
                if margin * 2 < height and all(box_iou(body, p.box) == 0 for p in placed):
                    break
            else:
                continue
            labels, chip, chip_box = faces[next(pool)]
            tilt = float(rng.uniform(-15, 15))
            truth = _person(frame, chip, chip_box, face_px, (cx, cy), tilt, rng)
            placed.append(TruthFace(truth, labels.age, labels.gender, labels.path.name))
        scenes.append(Scene(_camera(frame, rng), width, height, placed))
    return scenes


@dataclass(frozen=True)
class Match:
    truth: TruthFace
    found: dict[str, Any] | None  # the predicted face (``Face.to_dict()``), None if missed


def match_faces(
    truths: Sequence[TruthFace], predicted: Sequence[dict[str, Any]]
) -> tuple[list[Match], int]:
    """Greedy one-to-one matching by IoU; returns matches and the count of false faces."""
    pairs = sorted(
        (
            (box_iou(t.box, p["box"]), ti, pi)
            for ti, t in enumerate(truths)
            for pi, p in enumerate(predicted)
        ),
        reverse=True,
    )
    truth_to_pred: dict[int, int] = {}
    used: set[int] = set()
    for iou, ti, pi in pairs:
        if iou < MATCH_IOU:
            break
        if ti not in truth_to_pred and pi not in used:
            truth_to_pred[ti] = pi
            used.add(pi)
    matches = [
        Match(t, predicted[truth_to_pred[i]] if i in truth_to_pred else None)
        for i, t in enumerate(truths)
    ]
    return matches, len(predicted) - len(used)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 5) -> float:
    """How far stated confidence (0.5..1) is from accuracy, averaged over equal-width bins."""
    edges = np.linspace(0.5, 1.0, bins + 1)
    ece = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (confidence >= low) & ((confidence < high) | (high == 1.0))
        if inside.any():
            ece += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return float(ece)


def ece_noise_floor(confidence: np.ndarray, draws: int = 200, seed: int = 0) -> float:
    """The ECE a perfectly calibrated model would still show on these many faces.

    Outcomes are drawn with exactly the stated confidences; the mean ECE over the
    draws is what sampling alone adds. A bucket's ECE near this floor is as honest
    as its number of faces can show; on a hundred faces the floor is about 0.04.
    """
    rng = np.random.default_rng(seed)
    return float(
        np.mean(
            [
                expected_calibration_error(confidence, rng.random(len(confidence)) < confidence)
                for _ in range(draws)
            ]
        )
    )


def _readings(matches: Sequence[Match]) -> dict[str, Any]:
    """Gender accuracy, age MAE and gender ECE (with its noise floor) over the matched faces."""
    pairs = [(m.truth, m.found) for m in matches if m.found is not None]
    if not pairs:
        return {}
    correct = np.array([(f["gender"] == "female") == (t.gender == 1) for t, f in pairs])
    confidence = np.array([f["gender_confidence"] for _, f in pairs])
    return {
        "gender_accuracy": round(float(np.mean(correct)), 4),
        "age_mae": round(float(np.mean([abs(f["age"] - t.age) for t, f in pairs])), 3),
        "gender_ece": round(expected_calibration_error(confidence, correct), 4),
        "gender_ece_noise_floor": round(ece_noise_floor(confidence), 4),
    }


def _recall(matches: Sequence[Match]) -> float | None:
    found = sum(m.found is not None for m in matches)
    return round(found / len(matches), 4) if matches else None


def score(matches: Sequence[Match], false_faces: int, n_frames: int) -> dict[str, Any]:
    """Recall, gender accuracy, age MAE and ECE per face-width bucket; false faces per frame."""
    buckets: dict[str, Any] = {}
    for low, high in FACE_PX_BUCKETS:
        inside = [m for m in matches if low <= m.truth.box[2] < high]
        buckets[bucket_name(low, high)] = {
            "n": len(inside),
            "found": sum(m.found is not None for m in inside),
            "recall": _recall(inside),
            **_readings(inside),
        }
    band = [m for m in matches if 32 <= m.truth.box[2] < 80]
    return {
        "n_frames": n_frames,
        "n_faces": len(matches),
        "false_faces_per_frame": round(false_faces / max(1, n_frames), 4),
        "by_face_px": buckets,
        "recall_32_80": _recall(band),
        **{f"{k}_32_80": v for k, v in _readings(band).items()},
    }


def run_benchmark(
    scenes: Sequence[Scene], predict: Callable[[np.ndarray], Sequence[Any]]
) -> dict[str, Any]:
    """Each scene's JPEG through decode and ``predict``; scores and milliseconds per frame."""
    matches: list[Match] = []
    false_faces = 0
    milliseconds = []
    for scene in scenes:
        started = time.perf_counter()
        faces = [face.to_dict() for face in predict(decode_image(scene.jpeg))]
        milliseconds.append((time.perf_counter() - started) * 1000)
        scene_matches, false = match_faces(scene.faces, faces)
        matches += scene_matches
        false_faces += false
    report = score(matches, false_faces, len(scenes))
    ordered = sorted(milliseconds)
    report["ms_per_frame"] = {
        "median": round(statistics.median(ordered), 2),
        "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
        "mean": round(statistics.fmean(ordered), 2),
    }
    return report
