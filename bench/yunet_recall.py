"""How small a face YuNet finds at each scale: recall by true face width on MaskON's tune half.

    taskset -c 0 python -m bench.yunet_recall [--archive /work/data/maskon/archive] [--json OUT]

The Kaggle "Face Mask Detection" photos (CC0; ``maksssksksss*`` files, VOC boxes)
are street and crowd photos of about 400x300 px, so scales above 1 stand for
"reach that many pixels". Only the tune half (``model.real_sets.split_half``)
is read. A detection matches a true face whose box holds its centre, greedy by
score (``model.bench_real.match_by_centre``); detections that match no true face
are counted per image (MaskON does not box every background face, so they are
an upper bound on false faces).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
from PIL import Image

from model.bench_real import FoundFace, match_by_centre
from model.detect import Detection
from model.real_sets import TruthFace, maskon_sets
from model.yunet import DEFAULT_PATH, YuNet

WIDTH_BINS = ((16, 24), (24, 32), (32, 48), (48, 80))
THRESHOLDS = (0.3, 0.5, 0.7)
SCALES = (1.0, 1.5, 2.0)


def recall_table(
    images: dict[Path, list[TruthFace]], found: dict[Path, list[Detection]], min_score: float
) -> dict[str, Any]:
    """Recall per true-width bin and unmatched detections per image at one threshold."""
    hits = {bin_: [0, 0] for bin_ in WIDTH_BINS}
    unmatched = 0
    for path, truths in images.items():
        kept = [d for d in found[path] if d.score >= min_score]
        # Detection has the box and score the matcher reads; it ignores age and gender.
        outcomes, extra = match_by_centre(truths, cast(Sequence[FoundFace], kept))
        unmatched += extra
        for outcome in outcomes:
            width = outcome.truth.box[2]
            for low, high in WIDTH_BINS:
                if low <= width < high:
                    hits[(low, high)][0] += outcome.found is not None
                    hits[(low, high)][1] += 1
    return {
        **{
            f"recall_{low}-{high}px": round(found_ / total, 3) if total else None
            for (low, high), (found_, total) in hits.items()
        },
        **{f"faces_{low}-{high}px": total for (low, high), (_, total) in hits.items()},
        "unmatched_per_image": round(unmatched / len(images), 3),
    }


def measure(archive: Path, model: Path) -> dict[str, Any]:
    """The recall table for each scale and threshold on MaskON's tune half."""
    tune, _ = maskon_sets(archive)
    frames = {path: np.asarray(Image.open(path).convert("RGB")) for path in tune.images}
    report: dict[str, Any] = {"set": tune.name, "images": len(frames)}
    for scale in SCALES:
        detector = YuNet(model, scale=scale)
        found = {
            path: detector.detect(rgb, min_score=min(THRESHOLDS)) for path, rgb in frames.items()
        }
        for threshold in THRESHOLDS:
            report[f"scale_{scale}_score_{threshold}"] = recall_table(tune.images, found, threshold)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--archive", type=Path, default=Path("/work/data/maskon/archive"))
    parser.add_argument("--model", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    try:
        report = measure(args.archive, args.model)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
