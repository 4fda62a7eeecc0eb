"""Where a head points, from the face finder's five landmarks: the yaw and whether it faces
the screen.

The camera sits on the display, so a head turned towards the camera is turned
towards the screen. Yaw comes from parallax: the nose tip stands in front of
the eyes and the mouth corners, so as the head turns the nose moves across the
face faster than they do. Seen from the camera (near orthographic at store
distances), a head turned by ``yaw`` puts a point at lateral offset ``X`` and
depth ``Z`` (from the ear axis) at ``X cos(yaw) + Z sin(yaw)``; so

    (nose - midpoint of the eyes) / half the eye span = ((D_nose - D_eye) / R_eye) tan(yaw)
    (nose - midpoint of the mouth corners) / half the mouth span
        = ((D_nose - D_mouth) / R_mouth) tan(yaw)

with adult head proportions (below). The two cues are averaged, weighted by how
much each moves per degree.

Nothing here keeps landmarks: only the yaw (degrees) and ``looking`` leave the
predictor. Validated on faces rotated on a head model: ``python -m model.bench_attention``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# The finder's landmark order (model/detect.py): the subject's right eye, left eye, nose tip,
# right mouth corner, left mouth corner. The subject's right is the image's left.
RIGHT_EYE, LEFT_EYE, NOSE, RIGHT_MOUTH, LEFT_MOUTH = range(5)
LANDMARKS = 5

# Adult head proportions in cm (anthropometric means, rounded): half the distance between the
# tragions, the pupils and the mouth corners, and the depth in front of the ear axis of the
# nose tip, the eyes and the mouth corners.
EAR_HALF_SPAN_CM = 7.25
EYE_HALF_SPAN_CM = 3.15
MOUTH_HALF_SPAN_CM = 2.5
NOSE_DEPTH_CM = 10.5
EYE_DEPTH_CM = 7.5
MOUTH_DEPTH_CM = 8.0
# tan(yaw) = cue / gain
EYE_GAIN = (NOSE_DEPTH_CM - EYE_DEPTH_CM) / EYE_HALF_SPAN_CM
MOUTH_GAIN = (NOSE_DEPTH_CM - MOUTH_DEPTH_CM) / MOUTH_HALF_SPAN_CM
# A detector's landmarks follow a turning head only part of the way (it places a hidden eye
# where a frontal face would have it), so the geometry alone under-reads the turn. Fitted on
# 60 training-split UTKFace chips turned by the head model of model.bench_attention, near and
# far, for YuNet's landmarks (2026-12-03; 1.0-2.5 tried): 1.2 gave the least error on the
# turn (11.9 degrees mean; 12.1 at 1.0, 15.3 at 2.0), as it had for BlazeFace's keypoints.
KEYPOINT_LAG = 1.2

# A head within this many degrees of the camera counts as looking at the screen: a 55-inch
# screen seen from 2-4 m spans +-10 to +-20 degrees, plus the eyes' own turn in the head.
LOOKING_YAW_DEG = 30.0
# Past this the keypoints no longer tell how far the head is turned, only that it is.
MAX_YAW_DEG = 90.0


@dataclass(frozen=True)
class HeadPose:
    """The head's yaw in degrees (positive: turned to the subject's left, the image's right)
    and whether that is close enough to the camera to count as looking at the screen."""

    yaw: float
    looking: bool


def estimate_yaw(keypoints: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Head yaw in degrees from the finder's landmarks (5 x 2, frame pixels) and the face's box.

    The box bounds the spans: a keypoint set squeezed to nothing (a bad detection) reads as
    a profile rather than dividing by zero.
    """
    points = np.asarray(keypoints, dtype=np.float64)
    if points.shape != (LANDMARKS, 2) or not np.isfinite(points).all():
        raise ValueError(f"expected {LANDMARKS} finite (x, y) landmarks, got shape {points.shape}")
    # Measure along the line through the eyes, so a tilted (rolled) head reads the same.
    across = points[LEFT_EYE] - points[RIGHT_EYE]
    norm = float(np.hypot(*across))
    floor = max(1e-6, 0.02 * float(box[2]))
    axis = across / norm if norm > floor else np.array([1.0, 0.0])
    x = points @ axis
    nose = x[NOSE]
    eye_span = max(abs(x[LEFT_EYE] - x[RIGHT_EYE]) / 2, floor)
    mouth_span = max(abs(x[LEFT_MOUTH] - x[RIGHT_MOUTH]) / 2, floor)
    eye_cue = (nose - (x[RIGHT_EYE] + x[LEFT_EYE]) / 2) / eye_span
    mouth_cue = (nose - (x[RIGHT_MOUTH] + x[LEFT_MOUTH]) / 2) / mouth_span
    # Each cue is tan(yaw) times its gain; weight each by its gain squared (least squares).
    tan_yaw = (EYE_GAIN * eye_cue + MOUTH_GAIN * mouth_cue) / (EYE_GAIN**2 + MOUTH_GAIN**2)
    tan_yaw *= KEYPOINT_LAG
    return float(np.clip(math.degrees(math.atan(tan_yaw)), -MAX_YAW_DEG, MAX_YAW_DEG))


def head_pose(
    keypoints: np.ndarray,
    box: tuple[float, float, float, float],
    looking_yaw_deg: float = LOOKING_YAW_DEG,
) -> HeadPose:
    """The yaw (rounded to a degree) and whether it is within ``looking_yaw_deg`` of the camera."""
    yaw = estimate_yaw(keypoints, box)
    return HeadPose(yaw=round(yaw, 1), looking=abs(yaw) <= looking_yaw_deg)
