"""Serving-identical face crops for training, computed once and cached.

Every labelled image goes through the serving face finder and aligner, so the
network trains on exactly the crops it will see in production. Images where no
face is found are counted and left out. Beside each clean crop, ``degrade``
makes crops of the same face as a store camera a few metres away would see it
(``model/degrade.py``); those are cached too, with the face width they stand for.
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
from model.degrade import DEGRADE_VERSION, degraded_crop, sample_conditions
from model.detect import Detection, load_face_finder
from model.images import ImageRejected, read_image

# Bump when the detector, aligner or crop geometry change (degradations: DEGRADE_VERSION).
CACHE_VERSION = 4  # 4: YuNet's boxes and five landmarks


@dataclass(frozen=True)
class CropSet:
    """Aligned crops and their labels; ``race`` is for fairness evaluation only."""

    crops: np.ndarray  # (N, CROP_SIZE, CROP_SIZE, 3) uint8
    ages: np.ndarray
    genders: np.ndarray
    races: np.ndarray
    names: np.ndarray
    n_images: int  # images asked for, including those with no face found
    boxes: np.ndarray  # (N, 4) the detector's box of each crop's face, in image pixels
    keypoints: np.ndarray  # (N, 5, 2) its landmarks


@dataclass(frozen=True)
class DegradedCrops:
    """``variants`` camera-degraded crops of every face of a CropSet, in its order."""

    crops: np.ndarray  # (N, variants, CROP_SIZE, CROP_SIZE, 3) uint8
    face_px: np.ndarray  # (N, variants) the face width each variant was shrunk to


def detect_best_face(image: LabelledImage) -> tuple[np.ndarray, Detection] | None:
    """The image and its highest-scoring face, or None when unreadable or no face is found."""
    try:
        rgb = read_image(str(image.path))
    except ImageRejected:
        return None
    faces = load_face_finder().find(rgb)
    return (rgb, faces[0]) if faces else None


def crop_best_face(image: LabelledImage) -> np.ndarray | None:
    """The aligned crop of the highest-scoring face, or None when no face is found."""
    found = detect_best_face(image)
    return align_face(*found) if found else None


def _crop_and_box(image: LabelledImage) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    found = detect_best_face(image)
    if found is None:
        return None
    rgb, face = found
    return align_face(rgb, face), np.array(face.box, np.float32), face.keypoints


def _cache_key(images: list[LabelledImage], *extra: object) -> str:
    return hashlib.sha1(
        f"{CACHE_VERSION}:{CROP_SIZE}:{CROP_SCALE}:{extra}:".encode()
        + "\n".join(str(i.path.resolve()) for i in images).encode()
    ).hexdigest()[:16]


def build_crops(
    images: list[LabelledImage], cache_dir: Path, workers: int | None = None
) -> CropSet:
    """Crops for these images, from the cache when it holds exactly this list."""
    path = cache_dir / f"crops-{_cache_key(images)}.npz"
    if path.exists():
        with np.load(path) as cached:
            return CropSet(
                **{k: cached[k] for k in cached.files if k != "n_images"},
                n_images=int(cached["n_images"]),
            )
    workers = workers or os.cpu_count() or 1
    with ProcessPoolExecutor(workers) as pool:
        results = []
        for done, result in enumerate(pool.map(_crop_and_box, images, chunksize=64), start=1):
            results.append(result)
            if done % 1000 == 0 or done == len(images):
                print(f"  cropped {done}/{len(images)}", file=sys.stderr, flush=True)
    found = [(i, r) for i, r in enumerate(results) if r is not None]
    crop_set = CropSet(
        crops=(
            np.stack([r[0] for _, r in found])
            if found
            else np.zeros((0, CROP_SIZE, CROP_SIZE, 3), np.uint8)
        ),
        ages=np.array([images[i].age for i, _ in found], np.int32),
        genders=np.array([images[i].gender for i, _ in found], np.int32),
        races=np.array([images[i].race for i, _ in found], np.int32),
        names=np.array([images[i].path.name for i, _ in found]),
        n_images=len(images),
        boxes=np.array([r[1] for _, r in found], np.float32).reshape(-1, 4),
        keypoints=np.array([r[2] for _, r in found], np.float32).reshape(-1, 5, 2),
    )
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{k: getattr(crop_set, k) for k in CropSet.__dataclass_fields__})
    return crop_set


def _degrade_one(
    job: tuple[Path, np.ndarray, np.ndarray, Path, int, int],
) -> tuple[np.ndarray, np.ndarray]:
    path, box, keypoints, donor_path, variants, seed = job
    rng = np.random.default_rng(seed)
    chip, donor = read_image(str(path)), read_image(str(donor_path))
    detection = Detection(tuple(float(v) for v in box), 1.0, keypoints)  # type: ignore[arg-type]
    crops, widths = [], []
    for _ in range(variants):
        conditions = sample_conditions(rng)
        crops.append(degraded_crop(chip, detection, donor, conditions, rng))
        widths.append(min(conditions.face_px, float(box[2])))
    return np.stack(crops), np.array(widths, np.float32)


def build_degraded_crops(
    crop_set: CropSet,
    images: list[LabelledImage],
    variants: int,
    seed: int,
    cache_dir: Path,
    workers: int | None = None,
) -> DegradedCrops:
    """``variants`` store-camera crops of each face of ``crop_set`` (built from ``images``).

    Each face's surroundings come from another image of the same set, and every
    draw is seeded per face, so the set is the same on every machine.
    """
    by_name = {image.path.name: image.path for image in images}
    paths = [by_name[str(name)] for name in crop_set.names]
    key = _cache_key(images, variants, seed, DEGRADE_VERSION)
    cache = cache_dir / f"degraded-{key}.npz"
    if cache.exists():
        with np.load(cache) as cached:
            return DegradedCrops(crops=cached["crops"], face_px=cached["face_px"])
    donors = np.random.default_rng(seed).permutation(len(paths))
    jobs = [
        (paths[i], crop_set.boxes[i], crop_set.keypoints[i], paths[donors[i]], variants, seed + i)
        for i in range(len(paths))
    ]
    crops, widths = [], []
    with ProcessPoolExecutor(workers or os.cpu_count() or 1) as pool:
        for done, (face_crops, face_px) in enumerate(pool.map(_degrade_one, jobs, chunksize=64), 1):
            crops.append(face_crops)
            widths.append(face_px)
            if done % 2000 == 0 or done == len(jobs):
                print(f"  degraded {done}/{len(jobs)}", file=sys.stderr, flush=True)
    degraded = DegradedCrops(
        crops=np.stack(crops)
        if crops
        else np.zeros((0, variants, CROP_SIZE, CROP_SIZE, 3), np.uint8),
        face_px=np.stack(widths) if widths else np.zeros((0, variants), np.float32),
    )
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez(cache, crops=degraded.crops, face_px=degraded.face_px)
    return degraded
