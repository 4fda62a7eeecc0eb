"""How well ``model.attention`` reads head yaw: ``python -m model.bench_attention``.

No head-pose labels ship with the project, so the benchmark makes its own: each
face (validation-split UTKFace chips, and the two sample photos) is turned by a
known yaw on a head model and handed to the serving face finder, whose
keypoints ``model.attention`` reads. The head model is an elliptic cylinder
through the ears, as deep as an adult head is in front of the ear axis, with a
nose that stands out of it; each row of pixels is turned about the vertical
axis and drawn back to front, so what the near cheek hides stays hidden. It is
a model of a head, not a head: hair and ears do not stand out from it, and the
far side shows background where a real head shows its profile.

Faces are drawn at two sizes: as the chip comes (a near face, about 120 px
wide) and shrunk to a far face about 40 px wide, as a store camera sees people
4 m away. Printed: error against the true yaw by |yaw| and overall, and the
``looking`` call's accuracy against the truth |yaw| <= 30 degrees.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from model.attention import (
    EAR_HALF_SPAN_CM,
    EYE_DEPTH_CM,
    EYE_HALF_SPAN_CM,
    LEFT_EYE,
    LOOKING_YAW_DEG,
    NOSE,
    NOSE_DEPTH_CM,
    RIGHT_EYE,
    HeadPose,
    head_pose,
)
from model.dataset import load_dataset
from model.detect import Detection, FaceFinder, load_face_finder
from model.images import decode_image

# The head model in units of half the ear span: the cheeks' depth in front of the ear axis at
# the midline (where the eyes are), and how far the nose tip stands out of that surface.
FACE_DEPTH = (
    EYE_DEPTH_CM / EAR_HALF_SPAN_CM / math.sqrt(1 - (EYE_HALF_SPAN_CM / EAR_HALF_SPAN_CM) ** 2)
)
NOSE_HEIGHT = (NOSE_DEPTH_CM - EYE_DEPTH_CM) / EAR_HALF_SPAN_CM
SUPERSAMPLE = 4  # source samples per pixel along a row, so a turned surface leaves no gaps
NEAR_FACE_PX = 110  # face box width of a near face
WINDOW_FACES = 3.0  # the window turned, in face widths
FAR_FACE_PX = 40  # a far face: about 4 m from a 1280x720 store camera
FAR_CANVAS = 240


@dataclass(frozen=True)
class Reading:
    true_yaw: float
    yaw: float | None  # None: no face found
    looking: bool | None
    size: str
    unturned_yaw: float | None  # the same face's reading before it was turned


def turn_head(rgb: np.ndarray, detection: Detection, yaw_deg: float) -> np.ndarray:
    """The face in ``rgb`` turned by ``yaw_deg`` (positive: to its left, the image's right).

    The head is an elliptic cylinder through the ears, placed from the detected eyes with adult
    proportions (semi-axes: half the ear span across, ``FACE_DEPTH`` of it in depth), with a
    nose ridge from the eyes to the nose tip.
    """
    height, width = rgb.shape[:2]
    points = detection.keypoints.astype(np.float64)
    centre_x = (points[RIGHT_EYE, 0] + points[LEFT_EYE, 0]) / 2
    eye_half_span = abs(points[LEFT_EYE, 0] - points[RIGHT_EYE, 0]) / 2
    radius = eye_half_span * EAR_HALF_SPAN_CM / EYE_HALF_SPAN_CM
    eyes_y = (points[0, 1] + points[1, 1]) / 2
    nose_x, nose_y = points[NOSE]

    xs = np.arange(width * SUPERSAMPLE) / SUPERSAMPLE
    lateral = (xs - centre_x) / radius
    inside = np.abs(lateral) < 1
    depth_row = np.where(inside, FACE_DEPTH * np.sqrt(np.clip(1 - lateral**2, 0, None)), 0.0)
    # The nose: a ridge, highest at the tip, fading out above the eyes and below the tip.
    ys = np.arange(height)[:, None]
    along = np.clip((ys - (eyes_y - 0.3 * (nose_y - eyes_y))) / (1.3 * (nose_y - eyes_y)), 0, 1)
    below = np.exp(-(((ys - nose_y).clip(0, None) / (0.25 * radius)) ** 2))
    ridge = np.exp(-(((xs - nose_x) / (0.18 * radius)) ** 2))[None, :]
    depth = depth_row[None, :] + NOSE_HEIGHT * (along * below) * ridge * inside[None, :]

    theta = math.radians(yaw_deg)
    # Image x grows to the subject's left, depth grows towards the camera.
    turned_x = centre_x + radius * (lateral[None, :] * math.cos(theta) + depth * math.sin(theta))
    turned_depth = -lateral[None, :] * math.sin(theta) + depth * math.cos(theta)
    # The surface behind the ear axis is not in the photo: only the front half is drawn.
    visible = np.broadcast_to(inside[None, :], depth.shape)

    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).mean(axis=0)
    out = np.empty_like(rgb)
    out[:] = border.astype(rgb.dtype)
    source = np.clip((xs + 0.5).astype(int), 0, width - 1)
    for row in range(height):
        keep = visible[row]
        columns = np.round(turned_x[row, keep]).astype(int)
        order = np.argsort(turned_depth[row, keep])  # far first: the nearest is written last
        columns, pixels = columns[order], rgb[row, source[keep][order]]
        on_frame = (columns >= 0) & (columns < width)
        out[row, columns[on_frame]] = pixels[on_frame]
    return out


def face_window(rgb: np.ndarray, detection: Detection) -> np.ndarray:
    """A square of ``WINDOW_FACES`` face widths around the face, scaled so the face is
    ``NEAR_FACE_PX`` wide, borders replicated: room for the head to turn without leaving it."""
    x, y, w, h = detection.box
    scale = NEAR_FACE_PX / w
    side = round(NEAR_FACE_PX * WINDOW_FACES)
    matrix = np.array(
        [[scale, 0, side / 2 - scale * (x + w / 2)], [0, scale, side / 2 - scale * (y + h / 2)]]
    )
    return cv2.warpAffine(
        rgb, matrix, (side, side), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )


def _far(window: np.ndarray) -> np.ndarray:
    """The window shrunk so the face is ``FAR_FACE_PX`` wide, on a grey square."""
    small = cv2.resize(
        window,
        None,
        fx=FAR_FACE_PX / NEAR_FACE_PX,
        fy=FAR_FACE_PX / NEAR_FACE_PX,
        interpolation=cv2.INTER_AREA,
    )
    canvas = np.full((FAR_CANVAS, FAR_CANVAS, 3), 110, np.uint8)
    top, left = (FAR_CANVAS - small.shape[0]) // 2, (FAR_CANVAS - small.shape[1]) // 2
    canvas[top : top + small.shape[0], left : left + small.shape[1]] = small
    return canvas


def _pose(image: np.ndarray, finder: FaceFinder) -> HeadPose | None:
    found = finder.find(image)
    if not found:
        return None
    best = max(found, key=lambda d: d.score)
    return head_pose(best.keypoints, best.box)


def read_yaws(
    faces: Sequence[np.ndarray], yaws: Sequence[float], finder: FaceFinder, far: bool
) -> list[Reading]:
    """Turn each face by its yaw, find it again, and read its pose (and the unturned pose)."""
    readings = []
    size = "far" if far else "near"
    for rgb, true_yaw in zip(faces, yaws, strict=True):
        found = finder.find(rgb)
        if not found:
            continue  # the unturned face is not found: nothing to turn
        window = face_window(rgb, max(found, key=lambda d: d.score))
        centred = finder.find(window)
        if not centred:
            continue
        frontal = _pose(_far(window) if far else window, finder)
        turned = turn_head(window, max(centred, key=lambda d: d.score), true_yaw)
        pose = _pose(_far(turned) if far else turned, finder)
        readings.append(
            Reading(
                true_yaw,
                None if pose is None else pose.yaw,
                None if pose is None else pose.looking,
                size,
                None if frontal is None else frontal.yaw,
            )
        )
    return readings


def summarise(readings: Sequence[Reading]) -> dict[str, float | int]:
    """Found share, yaw error (mean, median, p90, bias) and looking accuracy of some readings."""
    found = [r for r in readings if r.yaw is not None]
    errors = [abs(r.yaw - r.true_yaw) for r in found if r.yaw is not None]
    # Negative: the reading falls short of the turn (towards zero).
    signed = [
        math.copysign(1, r.true_yaw) * (r.yaw - r.true_yaw) for r in found if r.yaw is not None
    ]
    # Each photo has a pose of its own: the change from its unturned reading isolates the turn.
    relative = [
        abs(r.yaw - r.unturned_yaw - r.true_yaw)
        for r in found
        if r.yaw is not None and r.unturned_yaw is not None
    ]
    truth = [abs(r.true_yaw) <= LOOKING_YAW_DEG for r in found]
    said = [bool(r.looking) for r in found]
    correct = [t == s for t, s in zip(truth, said, strict=True)]
    looking_said = [t for t, s in zip(truth, said, strict=True) if s]
    looking_true = [s for t, s in zip(truth, said, strict=True) if t]
    return {
        "n": len(readings),
        "found": len(found) / max(1, len(readings)),
        "mae": statistics.fmean(errors) if errors else math.nan,
        "median": statistics.median(errors) if errors else math.nan,
        "p90": float(np.percentile(errors, 90)) if errors else math.nan,
        "under": statistics.fmean(signed) if signed else math.nan,
        "turn_mae": statistics.fmean(relative) if relative else math.nan,
        "looking_accuracy": statistics.fmean(correct) if correct else math.nan,
        "looking_precision": statistics.fmean(looking_said) if looking_said else math.nan,
        "looking_recall": statistics.fmean(looking_true) if looking_true else math.nan,
    }


YAW_BUCKETS = ((0, 15), (15, 30), (30, 45), (45, 61))


def report(readings: Sequence[Reading]) -> str:
    lines = [
        "size  |yaw|     n  found   MAE  median   p90  under  turn MAE  looking acc"
        "  precision  recall",
    ]
    for size in ("near", "far"):
        of_size = [r for r in readings if r.size == size]
        groups: list[tuple[str, list[Reading]]] = [
            (f"{low}-{min(high, 60)}", [r for r in of_size if low <= abs(r.true_yaw) < high])
            for low, high in YAW_BUCKETS
        ]
        groups.append(("all", of_size))
        for name, group in groups:
            if not group:
                continue
            s = summarise(group)
            errors = f"{s['mae']:5.1f} {s['median']:7.1f} {s['p90']:5.1f} {s['under']:6.1f}"
            looking = f"{s['looking_accuracy']:12.3f} {s['looking_precision']:10.3f}"
            lines.append(
                f"{size:5} {name:6} {s['n']:5} {s['found']:6.2f} {errors}"
                f" {s['turn_mae']:9.1f} {looking} {s['looking_recall']:7.3f}"
            )
    return "\n".join(lines)


def validation_faces(data: Path, count: int, seed: int) -> list[np.ndarray]:
    """``count`` validation-split chips of adults (13+), drawn with a seed."""
    images = [
        image
        for image in load_dataset(data).images
        if image.split == "validation" and image.age >= 13
    ]
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(images), size=min(count, len(images)), replace=False)
    return [decode_image(images[i].path.read_bytes()) for i in sorted(chosen)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets/utkface"))
    parser.add_argument("--faces", type=int, default=200, help="validation chips to turn")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args(argv)

    from model.samples import sample_photos

    faces = [decode_image(path.read_bytes()) for path in sample_photos()]
    if args.data.is_dir():
        faces += validation_faces(args.data, args.faces, args.seed)
    else:
        print(f"no dataset at {args.data}: the sample photos only", file=sys.stderr)
    if not faces:
        print("no faces to turn: install matplotlib/scikit-image or pass --data", file=sys.stderr)
        return 1
    rng = np.random.default_rng(args.seed)
    # Each face twice, at two yaws drawn over +-60 degrees, near and far.
    yaws = rng.uniform(-60, 60, size=(2, len(faces)))
    finder = load_face_finder()
    started = time.perf_counter()
    readings = []
    for far in (False, True):
        for draw in yaws:
            readings += read_yaws(faces, list(draw), finder, far)
    print(
        f"{len(faces)} faces ({len(faces) - (len(sample_photos()))} UTKFace validation chips),"
        f" yaw uniform over +-60 deg, looking = |yaw| <= {LOOKING_YAW_DEG:.0f} deg,"
        f" {time.perf_counter() - started:.0f} s"
    )
    print(report(readings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
