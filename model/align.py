"""Eye-aligned face crops: the exact input the age/gender network sees, in training and serving."""

from __future__ import annotations

import math

import cv2
import numpy as np

from model.detect import Detection

CROP_SIZE = 64
# The crop's side relative to the detector's box. BlazeFace boxes already span
# brow to chin and ear to ear; a little context (hair, jaw) helps age and gender.
CROP_SCALE = 1.1


def align_face(rgb: np.ndarray, detection: Detection, size: int = CROP_SIZE) -> np.ndarray:
    """Rotate the face upright about its box centre, so the eyes lie level, and crop it.

    Pixels outside the frame are filled by replicating the border, the same in
    training and serving.
    """
    x, y, w, h = detection.box
    centre = (x + w / 2, y + h / 2)
    dx, dy = detection.left_eye - detection.right_eye
    angle = math.degrees(math.atan2(float(dy), float(dx)))
    side = max(w, h) * CROP_SCALE
    # Rotate about the centre, then scale and shift so the square of `side` maps to the output.
    matrix = cv2.getRotationMatrix2D(centre, angle, size / side)
    matrix[0, 2] += size / 2 - centre[0]
    matrix[1, 2] += size / 2 - centre[1]
    return cv2.warpAffine(
        rgb, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )
