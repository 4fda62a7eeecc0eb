"""Choose the age formulation by measurement: train each head the same way, compare on validation.

    python -m model.compare_age_heads --data DIR --out DIR [--epochs N] [--width W] [--json OUT]

Every head gets the same backbone, augmentation, schedule, seed and split, and
is scored the way the shipped model is (averaged, recalibrated weights). The
runs are shorter and narrower than the shipped one so that all of them fit in
one CPU session; the comparison is between heads, not against the card.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from model.cli import DEFAULT_CACHE
from model.network import AGE_HEADS
from model.train import TrainingConfig, train


def compare(data: Path, out: Path, epochs: int, width: int, cache: Path) -> dict[str, dict]:
    results = {}
    for head in AGE_HEADS:
        config = TrainingConfig(epochs=epochs, width=width, age_head=head)
        train([data], out / head, config, cache)
        run = json.loads((out / head / "training.json").read_text())
        results[head] = {
            **run["final_validation"]["averaged_recalibrated"],
            "seconds": run["seconds"],
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="one run folder per head goes here")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="crop cache folder")
    parser.add_argument("--json", type=Path, help="also write the comparison here")
    args = parser.parse_args()
    results = compare(args.data, args.out, args.epochs, args.width, args.cache)
    report = {"epochs": args.epochs, "width": args.width, "heads": results}
    print(f"{'head':<12}{'age MAE':>9}{'gender acc':>12}{'seconds':>9}")
    for head, row in results.items():
        print(f"{head:<12}{row['age_mae']:>9.3f}{row['gender_accuracy']:>12.4f}{row['seconds']:>9}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
