"""Command line: train, evaluate, export and predict.

    python -m model train --data DIR [--data DIR ...] --out DIR [--epochs N]
    python -m model evaluate --data DIR --json OUT
    python -m model predict IMAGE... [--min-face-px N]
    python -m model bench-scenes --data DIR [--frames N]
    python -m model export-yunet --source DIR [--out PATH]
    python -m model real-sets --out DIR [--maskon DIR] [--dlib DIR] [--aaf DIR]
    python -m model bench-real [--data DIR ...] [--out JSON] [--limit N]

Errors print one line on stderr and exit non-zero; no tracebacks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from model.detect import DEFAULT_MIN_FACE_PX, NEAR_MIN_FACE_PX
from model.images import ImageRejected

DEFAULT_CACHE = Path(".cache")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 100_000:
        raise argparse.ArgumentTypeError(f"{text} must be a positive number of pixels")
    return value


def _bench_scenes(args: argparse.Namespace) -> int:
    from model.bench_scenes import bench_scenes

    width, _, height = args.size.partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise ValueError(f"--size must be WIDTHxHEIGHT, not {args.size!r}")
    bench_scenes(
        args.data,
        args.json,
        n_frames=args.frames,
        seed=args.seed,
        size=(int(width), int(height)),
        profiles=args.min_face_px or [DEFAULT_MIN_FACE_PX, NEAR_MIN_FACE_PX],
        cache_dir=args.cache,
    )
    return 0


def _train(args: argparse.Namespace) -> int:
    from model.train import TrainingConfig, train

    given = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "width": args.width,
        "seed": args.seed,
    }
    config = TrainingConfig(**{name: value for name, value in given.items() if value is not None})
    train(args.data, args.out, config, args.cache)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from model.images import read_image
    from model.predictor import load_predictor

    failures = 0
    for image in args.images:
        try:
            rgb = read_image(image)
        except ImageRejected as exc:
            print(f"error: {image}: {exc.reason}", file=sys.stderr)
            failures += 1
            continue
        # The model loads on the first readable image: a run of bad files pays nothing.
        faces = load_predictor().predict(rgb, min_face_px=args.min_face_px)
        print(json.dumps({"image": image, "faces": [face.to_dict() for face in faces]}))
    return 1 if failures else 0


def _evaluate(args: argparse.Namespace) -> int:
    from model.dataset import load_dataset
    from model.evaluate import run_serving_path, summarise, write_plots
    from model.predictor import load_predictor

    loaded = load_dataset(args.data)
    images = [i for i in loaded.images if args.split == "all" or i.split == args.split]
    if args.limit:
        images = images[:: max(1, len(images) // args.limit)][: args.limit]
    if not images:
        raise ValueError(f"no labelled images in {args.data} (split {args.split})")
    predictor = load_predictor(args.model) if args.model else load_predictor()
    outcomes = run_serving_path(predictor, images)
    report = summarise(outcomes, predictor.model_version)
    report["skipped_names"] = len(loaded.skipped)
    report["split"] = args.split
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.plots:
        write_plots(outcomes, report, args.plots)
    print(
        f"{report['n_faces_found']}/{report['n_images']} faces found, "
        f"gender accuracy {report['gender_accuracy']}, age MAE {report['age_mae']}, "
        f"{report['ms_per_face_median']} ms/face"
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    from model.export import export_tflite, write_serving_card

    print(export_tflite(args.keras, args.out, quantize=args.quantize))
    training = args.keras.parent / "training.json"
    run = json.loads(training.read_text()) if training.exists() else {}
    # Temperatures fitted for what will be served: single crops, or crop and mirror averaged.
    key = "gender_temperatures_flip" if args.test_time_flip else "gender_temperatures"
    temperatures = run.get(key)
    if temperatures is None:
        print(f"no {key} in {training}: gender confidence served uncalibrated", file=sys.stderr)
    print(write_serving_card(args.out, args.version, args.test_time_flip, temperatures))
    return 0


def _export_yunet(args: argparse.Namespace) -> int:
    from model.yunet_keras import export_yunet

    print(export_yunet(args.source, args.out, float16=args.float16))
    return 0


def _samples(args: argparse.Namespace) -> int:
    from model.samples import sample_photos

    photos = sample_photos()
    if not photos:
        raise FileNotFoundError("no sample photos: install matplotlib or scikit-image")
    print(" ".join(str(p) for p in photos))
    return 0


def _real_sets(args: argparse.Namespace) -> int:
    from model.real_sets import build_real_sets

    for folder in build_real_sets(args.out, args.maskon, args.dlib, args.aaf):
        print(folder)
    return 0


def _bench_real(args: argparse.Namespace) -> int:
    from model.bench_real import HOW_TO_GET_SETS, bench_real
    from model.real_sets import real_data_roots, set_folders

    roots = args.data or real_data_roots(os.environ.get("REAL_DATA"))
    if not roots:
        print(HOW_TO_GET_SETS.format(sep=os.pathsep))
        return 0
    bench_real(set_folders(roots), args.out, min_face_px=args.min_face_px, limit=args.limit)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model", description=__doc__.split("\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True)

    train = verbs.add_parser("train", help="train the age/gender network")
    train.add_argument(
        "--data",
        type=Path,
        required=True,
        action="append",
        help="labelled image folder, CSV or All-Age-Faces copy; repeat to train on several",
    )
    train.add_argument("--out", type=Path, required=True, help="run folder for checkpoints")
    train.add_argument("--epochs", type=int, help="default: TrainingConfig.epochs")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--width", type=int, help="channels of the first stage")
    train.add_argument("--seed", type=int, help="initialisation, order and degraded crops")
    train.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="crop cache folder")
    train.set_defaults(run=_train)

    evaluate = verbs.add_parser("evaluate", help="accuracy through the full serving path")
    evaluate.add_argument("--data", type=Path, required=True, help="labelled image folder or CSV")
    evaluate.add_argument("--json", type=Path, required=True, help="where to write the report")
    evaluate.add_argument(
        "--split",
        choices=("all", "train", "validation"),
        default="all",
        help="which side of the deterministic split to evaluate (default: every image)",
    )
    evaluate.add_argument("--limit", type=int, help="an evenly spaced sample of this many images")
    evaluate.add_argument("--model", type=Path, help="a .tflite model (default: the shipped one)")
    evaluate.add_argument("--plots", type=Path, help="folder for the model card's figures")
    evaluate.set_defaults(run=_evaluate)

    export = verbs.add_parser("export", help="convert a trained .keras model to LiteRT")
    export.add_argument("--keras", type=Path, required=True)
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--version", required=True, help="model_version written beside it")
    export.add_argument("--quantize", action="store_true", help="int8 weights")
    export.add_argument(
        "--test-time-flip", action="store_true", help="serve the mean over the mirrored crop too"
    )
    export.set_defaults(run=_export)

    yunet = verbs.add_parser(
        "export-yunet", help="port libfacedetection's YuNet face detector to LiteRT"
    )
    yunet.add_argument("--source", type=Path, required=True, help="libfacedetection checkout")
    yunet.add_argument("--out", type=Path, default=Path("model/artifacts/yunet.tflite"))
    yunet.add_argument("--float16", action="store_true", help="float16 weights")
    yunet.set_defaults(run=_export_yunet)

    samples = verbs.add_parser("samples", help="paths of face photos shipped in dependencies")
    samples.set_defaults(run=_samples)

    predict = verbs.add_parser("predict", help="faces, ages and genders in images")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument(
        "--min-face-px",
        type=_positive_float,
        default=DEFAULT_MIN_FACE_PX,
        help="smallest face width to look for, in image pixels; smaller costs more "
        f"(default: {DEFAULT_MIN_FACE_PX:g}, a display camera at 1280x720; "
        f"{NEAR_MIN_FACE_PX:g} for close range only)",
    )
    predict.set_defaults(run=_predict)

    scenes = verbs.add_parser(
        "bench-scenes", help="recall, accuracy and speed on store scenes at camera distances"
    )
    scenes.add_argument("--data", type=Path, required=True, help="labelled image folder or CSV")
    scenes.add_argument("--frames", type=int, default=400, help="scenes to compose (default 400)")
    scenes.add_argument("--seed", type=int, default=7)
    scenes.add_argument(
        "--size", default="1280x720", help="frame size WIDTHxHEIGHT (default 1280x720)"
    )
    scenes.add_argument(
        "--min-face-px",
        type=_positive_float,
        action="append",
        help=f"profiles to measure (repeatable; default {DEFAULT_MIN_FACE_PX:g} and "
        f"{NEAR_MIN_FACE_PX:g})",
    )
    scenes.add_argument(
        "--json", type=Path, default=Path("model/artifacts/scenes.json"), help="report path"
    )
    scenes.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="crop cache folder")
    scenes.set_defaults(run=_bench_scenes)

    real_sets = verbs.add_parser(
        "real-sets", help="annotated real photographs in bench-real's format, from local copies"
    )
    real_sets.add_argument("--out", type=Path, required=True, help="folder for the sets")
    real_sets.add_argument("--maskon", type=Path, help="MaskON's archive folder (Kaggle masks)")
    real_sets.add_argument("--dlib", type=Path, help="dlib's examples/faces folder")
    real_sets.add_argument("--aaf", type=Path, help="an All-Age-Faces copy (its train list only)")
    real_sets.set_defaults(run=_real_sets)

    real = verbs.add_parser(
        "bench-real", help="recall, false faces, age and gender on annotated real photographs"
    )
    real.add_argument(
        "--data",
        type=Path,
        nargs="+",
        help="set folders, or folders of sets (default: the folders $REAL_DATA names)",
    )
    real.add_argument(
        "--out", type=Path, default=Path("model/artifacts/real.json"), help="report path"
    )
    real.add_argument(
        "--min-face-px",
        type=_positive_float,
        default=DEFAULT_MIN_FACE_PX,
        help=f"smallest face width to look for (default: {DEFAULT_MIN_FACE_PX:g})",
    )
    real.add_argument("--limit", type=int, help="an evenly spaced sample of this many per set")
    real.set_defaults(run=_bench_real)
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
