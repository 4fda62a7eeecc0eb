"""``python -m model bench-scenes``: the far-field benchmark, written to ``scenes.json``.

Composes store scenes from validation-split faces (``model/scenes.py``) and runs
each profile (``min_face_px``) of the serving predictor over them on one thread:
decode, find, align, predict. Prints a table per profile and writes the report.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from model import machine
from model.crops import build_crops
from model.dataset import load_dataset
from model.images import read_image
from model.predictor import load_predictor
from model.scenes import Scene, make_scenes, run_benchmark


def store_scenes(
    data: Path, n_frames: int, seed: int, size: tuple[int, int], cache_dir: Path
) -> list[Scene]:
    """``n_frames`` store scenes composed from the validation split's faces in ``data``."""
    images = [i for i in load_dataset(data).images if i.split == "validation"]
    if not images:
        raise ValueError(f"no validation-split images in {data}")
    found = build_crops(images, cache_dir)  # the face box of each chip, from the serving finder
    by_name = {image.path.name: image for image in images}
    faces = []
    for name, box in zip(found.names, found.boxes, strict=True):
        image = by_name[str(name)]
        faces.append((image, read_image(str(image.path)), tuple(float(v) for v in box)))
    started = time.time()
    scenes = make_scenes(faces, n_frames, seed=seed, size=size)  # type: ignore[arg-type]
    print(f"{len(scenes)} scenes of {size[0]}x{size[1]} in {time.time() - started:.0f} s")
    return scenes


def bench_scenes(
    data: Path,
    out: Path,
    n_frames: int,
    seed: int,
    size: tuple[int, int],
    profiles: Sequence[float],
    cache_dir: Path,
) -> dict[str, Any]:
    """Compose the scenes, measure every profile, print and write the report."""
    scenes = store_scenes(data, n_frames, seed, size, cache_dir)
    predictor = load_predictor(num_threads=1)
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine.describe(),
        "libraries": machine.library_versions(),
        "model_version": predictor.model_version,
        "frame_size": list(size),
        "seed": seed,
        "profiles": {},
    }
    for min_face_px in profiles:
        result = run_benchmark(
            scenes, functools.partial(predictor.predict, min_face_px=min_face_px)
        )
        report["profiles"][f"min_face_px={min_face_px:g}"] = result
        _print_profile(min_face_px, result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return report


def _print_profile(min_face_px: float, result: dict[str, Any]) -> None:
    timing = result["ms_per_frame"]
    print(
        f"\nmin_face_px={min_face_px:g}: {result['n_frames']} frames, {result['n_faces']} faces, "
        f"{result['false_faces_per_frame']} false faces per frame, "
        f"{timing['median']} ms per frame median ({timing['p95']} p95), "
        f"recall 32-80 px {result['recall_32_80']}"
    )
    print(
        f"{'face px':>8} {'n':>5} {'recall':>7} {'gender':>7} {'age MAE':>7} {'ECE':>7}"
        f" {'floor':>7}"
    )
    keys = ("recall", "gender_accuracy", "age_mae", "gender_ece", "gender_ece_noise_floor")
    for bucket, entry in result["by_face_px"].items():
        cells = [entry.get(k) for k in keys]
        text = " ".join(f"{'-' if v is None else v:>7}" for v in cells)
        print(f"{bucket:>8} {entry['n']:>5} {text}")
