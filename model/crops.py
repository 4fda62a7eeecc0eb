"""Serving-identical face crops for training, computed once and cached.

Every labelled image goes through the serving face finder and aligner, so the
network trains on exactly the crops it will see in production. Images where no
face is found are counted and left out.
"""

from __future__ import annotations

import hashlib
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.align import CROP_SCALE, CROP_SIZE, align_face
from model.dataset import LabelledImage
from model.detect import load_face_finder
from model.images import ImageRejected, read_image

CACHE_VERSION = 1  # bump when the detector, aligner or crop geometry changes


@dataclass(frozen=True)
class CropSet:
    """Aligned crops and their labels; ``race`` is for fairness evaluation only."""

    crops: np.ndarray  # (N, CROP_SIZE, CROP_SIZE, 3) uint8
    ages: np.ndarray
    genders: np.ndarray
    races: np.ndarray
    names: np.ndarray
    n_images: int  # images asked for, including those with no face found


def crop_best_face(image: LabelledImage) -> np.ndarray | None:
    """The aligned crop of the highest-scoring face, or None when no face is found."""
    try:
        rgb = read_image(str(image.path))
    except ImageRejected:
        return None
    faces = load_face_finder().find(rgb)
    return align_face(rgb, faces[0]) if faces else None


def _cache_path(images: list[LabelledImage], cache_dir: Path) -> Path:
    key = hashlib.sha1(
        f"{CACHE_VERSION}:{CROP_SIZE}:{CROP_SCALE}:".encode()
        + "\n".join(str(i.path.resolve()) for i in images).encode()
    ).hexdigest()[:16]
    return cache_dir / f"crops-{key}.npz"


def build_crops(
    images: list[LabelledImage], cache_dir: Path, workers: int | None = None
) -> CropSet:
    """Crops for these images, from the cache when it holds exactly this list."""
    path = _cache_path(images, cache_dir)
    if path.exists():
        with np.load(path) as cached:
            return CropSet(
                **{k: cached[k] for k in cached.files if k != "n_images"},
                n_images=int(cached["n_images"]),
            )
    workers = workers or os.cpu_count() or 1
    with ProcessPoolExecutor(workers) as pool:
        results = []
        for done, crop in enumerate(pool.map(crop_best_face, images, chunksize=64), start=1):
            results.append(crop)
            if done % 1000 == 0 or done == len(images):
                print(f"  cropped {done}/{len(images)}", file=sys.stderr, flush=True)
    found = [i for i, crop in enumerate(results) if crop is not None]
    crops = [crop for crop in results if crop is not None]
    crop_set = CropSet(
        crops=np.stack(crops) if crops else np.zeros((0, CROP_SIZE, CROP_SIZE, 3), np.uint8),
        ages=np.array([images[i].age for i in found], np.int32),
        genders=np.array([images[i].gender for i in found], np.int32),
        races=np.array([images[i].race for i in found], np.int32),
        names=np.array([images[i].path.name for i in found]),
        n_images=len(images),
    )
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{k: getattr(crop_set, k) for k in CropSet.__dataclass_fields__})
    return crop_set
