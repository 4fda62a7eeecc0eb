"""Real face photographs that ship inside our dependencies, for demos and tests.

Nothing is downloaded: matplotlib ships Grace Hopper's portrait and
scikit-image ships the astronaut Eileen Collins.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

# (package, path inside it); each photo shows one adult woman, facing the camera.
SAMPLE_PHOTOS = (
    ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
    ("skimage", "data/astronaut.png"),
)


def sample_photos() -> list[Path]:
    """Paths of the sample photos whose packages are installed."""
    photos = []
    for package, relative in SAMPLE_PHOTOS:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            path = Path(next(iter(spec.submodule_search_locations))) / relative
            if path.exists():
                photos.append(path)
    return photos


def compose_frame(
    faces: list[np.ndarray], size: tuple[int, int] = (1280, 720), face_height: int = 300
) -> np.ndarray:
    """A camera-sized RGB frame with each photo scaled and placed side by side on grey."""
    width, height = size
    frame = np.full((height, width, 3), 90, np.uint8)
    slot = width // max(1, len(faces))
    for index, photo in enumerate(faces):
        scale = min(face_height / photo.shape[0], (slot - 10) / photo.shape[1])
        resized = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        top = (height - resized.shape[0]) // 2
        left = index * slot + (slot - resized.shape[1]) // 2
        frame[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
    return frame
