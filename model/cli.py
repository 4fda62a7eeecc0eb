"""Command line: train, evaluate, export and predict.

    python -m model train --data DIR --out DIR [--epochs N]
    python -m model evaluate --data DIR --json OUT
    python -m model predict IMAGE...

Errors print one line on stderr and exit non-zero; no tracebacks.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from model.images import ImageRejected

DEFAULT_CACHE = Path(".cache")


def _train(args: argparse.Namespace) -> int:
    from model.train import TrainingConfig, train

    config = TrainingConfig(epochs=args.epochs, batch_size=args.batch_size, width=args.width)
    train(args.data, args.out, config, args.cache)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from model.images import read_image
    from model.predictor import load_predictor

    predictor = load_predictor()
    failures = 0
    for image in args.images:
        try:
            faces = predictor.predict(read_image(image))
        except ImageRejected as exc:
            print(f"error: {image}: {exc.reason}", file=sys.stderr)
            failures += 1
            continue
        print(json.dumps({"image": image, "faces": [face.to_dict() for face in faces]}))
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model", description=__doc__.split("\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True)

    train = verbs.add_parser("train", help="train the age/gender network")
    train.add_argument("--data", type=Path, required=True, help="labelled image folder or CSV")
    train.add_argument("--out", type=Path, required=True, help="run folder for checkpoints")
    train.add_argument("--epochs", type=int, default=40)
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--width", type=int, default=32, help="channels of the first stage")
    train.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="crop cache folder")
    train.set_defaults(run=_train)

    predict = verbs.add_parser("predict", help="faces, ages and genders in images")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.set_defaults(run=_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
