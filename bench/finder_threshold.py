"""The face finder's score threshold, chosen on the tune half of the real photographs.

    python -m bench.finder_threshold [--data /work/real/maskon-tune /work/real/dlib-faces]

The finder reads every photo once, as served (``find_batch``: scaled for 24-pixel faces),
keeping candidates down to the lowest threshold tried; each threshold then keeps its share.
Printed per set and threshold: recall by true face width and detections that match no true
face per image (``model.bench_real``'s centre match). Only tune-half sets belong here: the
report half and the held All-Age-Faces are for ``make bench-real``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.bench_real import by_face_width, match_by_centre, recall
from model.detect import YUNET_TFLITE, FaceFinder
from model.images import read_image
from model.real_sets import read_truth
from model.runtime import LiteRtRuntime

THRESHOLDS = (0.4, 0.5, 0.6, 0.7, 0.8)
DEFAULT_SETS = (Path("/work/real/maskon-tune"), Path("/work/real/dlib-faces"))


@dataclass(frozen=True)
class _Found:
    """A detection as ``model.bench_real`` reads a predicted face (no age or gender)."""

    box: tuple[int, int, int, int]
    score: float
    age: float = 0.0
    gender: str = ""


def sweep(folder: Path) -> dict[str, Any]:
    """Recall by width and unmatched detections per image at each threshold for one set."""
    truth = read_truth(folder)
    # One pass down to the lowest threshold; each threshold then keeps its share.
    finder = FaceFinder(LiteRtRuntime(YUNET_TFLITE), min_score=min(THRESHOLDS))
    found = {name: finder.find(read_image(str(folder / name))) for name in sorted(truth)}
    report: dict[str, Any] = {"images": len(truth)}
    for threshold in THRESHOLDS:
        outcomes, unmatched = [], 0
        for name, detections in found.items():
            kept = [
                _Found((round(x), round(y), round(w), round(h)), d.score)
                for d in detections
                if d.score >= threshold
                for x, y, w, h in [d.box]
            ]
            image_outcomes, image_unmatched = match_by_centre(truth[name], kept)
            outcomes += image_outcomes
            unmatched += image_unmatched
        report[str(threshold)] = {
            "recall": recall(outcomes),
            "by_face_px": {k: v["recall"] for k, v in by_face_width(outcomes).items()},
            "unmatched_per_image": round(unmatched / len(truth), 3),
        }
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, nargs="+", default=list(DEFAULT_SETS))
    args = parser.parse_args(argv)
    print(json.dumps({folder.name: sweep(folder) for folder in args.data}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
