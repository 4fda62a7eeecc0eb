"""Frames for a simulated camera: composed from the sample photos, or read from a folder or a
video the user names. Each frame comes as JPEG bytes, ready to upload."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from model.images import ImageRejected, read_image
from model.samples import compose_frame, sample_photos

JPEG_QUALITY = 85
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class CameraFrame:
    jpeg: bytes
    label: str  # where it came from, for the console
    expected_faces: int | None = None  # known only for composed frames


def encode_jpeg(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _photos() -> list[np.ndarray]:
    photos = [np.asarray(Image.open(path).convert("RGB")) for path in sample_photos()]
    if not photos:
        raise FileNotFoundError(
            "no sample photos: install matplotlib or scikit-image (the dev extra has both)"
        )
    return photos


def composed_frames(count: int, max_faces: int = 3) -> Iterator[CameraFrame]:
    """1280x720 frames showing 1, 2, ... ``max_faces`` people in turn (real photographs)."""
    photos = _photos()
    # A mirrored copy makes a third, different-looking person from the two photographs.
    people = [*photos, *(photo[:, ::-1] for photo in photos)]
    encoded: dict[int, bytes] = {}
    for index in range(count):
        faces = index % max_faces + 1
        if faces not in encoded:
            chosen = [people[(index + i) % len(people)] for i in range(faces)]
            encoded[faces] = encode_jpeg(compose_frame(chosen, face_height=260))
        label = f"sample frame, {faces} face" + ("" if faces == 1 else "s")
        yield CameraFrame(encoded[faces], label, faces)


def folder_frames(folder: Path) -> Iterator[CameraFrame]:
    """Every JPEG/PNG in a folder, in name order, re-encoded as camera JPEGs."""
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise FileNotFoundError(f"no .jpg/.jpeg/.png files in {folder}")
    for path in paths:
        try:
            yield CameraFrame(encode_jpeg(read_image(str(path))), path.name)
        except ImageRejected as exc:
            print(f"skipping {path.name}: {exc.reason}")


def video_frames(video: Path, every_s: float = 0.5, limit: int = 60) -> Iterator[CameraFrame]:
    """One frame per ``every_s`` seconds of a video file, at most ``limit``."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise FileNotFoundError(f"cannot open video {video}")
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        step = max(1, round(fps * every_s))
        index = taken = 0
        while taken < limit:
            ok, bgr = capture.read()
            if not ok:
                break
            if index % step == 0:
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                yield CameraFrame(encode_jpeg(rgb), f"{video.name} @ {index / fps:.1f} s")
                taken += 1
            index += 1
    finally:
        capture.release()
