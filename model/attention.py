"""Where a head points, from BlazeFace's six keypoints: the yaw and whether it faces the screen.

The camera sits on the display, so a head turned towards the camera is turned
towards the screen. Yaw comes from parallax: the nose tip stands in front of
the eyes, which stand in front of the ears, so as the head turns the nose moves
across the face faster than the eyes, and the eyes faster than the ears. Seen
from the camera (near orthographic at store distances), a head turned by
``yaw`` puts a point at lateral offset ``X`` and depth ``Z`` (from the ear axis)
at ``X cos(yaw) + Z sin(yaw)``; so

    (nose - midpoint of the ears) / half the ear span = (D_nose / R_ear) tan(yaw)
    (nose - midpoint of the eyes) / half the eye span = ((D_nose - D_eye) / R_eye) tan(yaw)

with adult head proportions (below). The two cues are averaged, weighted by how
much each moves per degree. BlazeFace places a hidden ear where it guesses it
is, so past about 45 degrees the ear cue flattens; the eye cue keeps moving.

Nothing here keeps keypoints: only the yaw (degrees) and ``looking`` leave the
predictor. Validated on faces rotated on a head model: ``python -m model.bench_attention``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# BlazeFace's keypoint order (model/detect.py): the subject's right eye, left eye, nose tip,
# mouth centre, right ear tragion, left ear tragion. The subject's right is the image's left.
RIGHT_EYE, LEFT_EYE, NOSE, MOUTH, RIGHT_EAR, LEFT_EAR = range(6)

# Adult head proportions in cm (anthropometric means, rounded): half the distance between the
# tragions, half the distance between the pupils, and the depth in front of the ear axis of the
# nose tip and of the eyes.
EAR_HALF_SPAN_CM = 7.25
EYE_HALF_SPAN_CM = 3.15
NOSE_DEPTH_CM = 10.5
EYE_DEPTH_CM = 7.5
# tan(yaw) = cue / gain
EAR_GAIN = NOSE_DEPTH_CM / EAR_HALF_SPAN_CM
EYE_GAIN = (NOSE_DEPTH_CM - EYE_DEPTH_CM) / EYE_HALF_SPAN_CM
# BlazeFace's keypoints follow a turning head only part of the way (it places a hidden ear and
# eye where a frontal face would have them), so the geometry alone under-reads the turn. Fitted
# on 60 training-split UTKFace chips turned by the head model of model.bench_attention (scales
# 1.0-2.0 tried; 1.2 gave the least error on the turn and the best ``looking`` accuracy).
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
    """Head yaw in degrees from BlazeFace keypoints (6 x 2, frame pixels) and the face's box.

    The box bounds the spans: a keypoint set squeezed to nothing (a bad detection) reads as
    a profile rather than dividing by zero.
    """
    points = np.asarray(keypoints, dtype=np.float64)
    if points.shape != (6, 2) or not np.isfinite(points).all():
        raise ValueError(f"expected 6 finite (x, y) keypoints, got shape {points.shape}")
    # Measure along the line through the eyes, so a tilted (rolled) head reads the same.
    across = points[LEFT_EYE] - points[RIGHT_EYE]
    norm = float(np.hypot(*across))
    floor = max(1e-6, 0.02 * float(box[2]))
    axis = across / norm if norm > floor else np.array([1.0, 0.0])
    x = points @ axis
    nose = x[NOSE]
    ear_span = max(abs(x[LEFT_EAR] - x[RIGHT_EAR]) / 2, floor)
    eye_span = max(abs(x[LEFT_EYE] - x[RIGHT_EYE]) / 2, floor)
    ear_cue = (nose - (x[RIGHT_EAR] + x[LEFT_EAR]) / 2) / ear_span
    eye_cue = (nose - (x[RIGHT_EYE] + x[LEFT_EYE]) / 2) / eye_span
    # Each cue is tan(yaw) times its gain; weight each by its gain squared (least squares).
    tan_yaw = (EAR_GAIN * ear_cue + EYE_GAIN * eye_cue) / (EAR_GAIN**2 + EYE_GAIN**2)
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
