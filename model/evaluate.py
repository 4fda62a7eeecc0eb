"""Honest evaluation through the full serving path: decode, find, align, predict.

An image where no face is found counts against ``n_faces_found`` and is left
out of the accuracy figures, which are over the images where a face was found.
Ethnicity labels are used here, and only here, to measure fairness.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.align import align_face
from model.bands import BAND_NAMES, age_band
from model.dataset import ALL_AGE_FACES_GROUP, LabelledImage
from model.images import ImageRejected, read_image
from model.predictor import Predictor

# UTKFace's race labels (fairness only), and All-Age-Faces as a group of its own.
RACE_NAMES = {
    0: "White",
    1: "Black",
    2: "Asian",
    3: "Indian",
    4: "Others",
    ALL_AGE_FACES_GROUP: "All-Age-Faces",
}
# Children's gender is near-unreadable from a face, and the groups hold different
# shares of children; the gap is also reported over faces at least this old.
FAIRNESS_MIN_AGE = 13
MIN_GROUP_SIZE = 50  # groups smaller than this are reported but left out of the gap
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class Prediction:
    """The network's answer for one face, and how long the network alone took."""

    age: float
    p_female: float
    model_ms: float

    @property
    def female(self) -> bool:
        return self.p_female >= 0.5


@dataclass(frozen=True)
class Outcome:
    """What the serving path said about one labelled image (no prediction: no face found)."""

    image: LabelledImage
    prediction: Prediction | None = None


Found = list[tuple[LabelledImage, Prediction]]


def faces_found(outcomes: Sequence[Outcome]) -> Found:
    """The images where a face was found, with their predictions."""
    return [(o.image, o.prediction) for o in outcomes if o.prediction is not None]


def gender_hits(found: Found) -> list[bool]:
    return [p.female == bool(image.gender) for image, p in found]


def age_errors(found: Found) -> list[float]:
    return [abs(p.age - image.age) for image, p in found]


def run_serving_path(predictor: Predictor, images: Sequence[LabelledImage]) -> list[Outcome]:
    """Predict each image's most confident face, timing the network alone on one crop."""
    outcomes = []
    for image in images:
        try:
            rgb = read_image(str(image.path))
        except ImageRejected:
            outcomes.append(Outcome(image))
            continue
        detections = predictor.finder.find(rgb)
        if not detections:
            outcomes.append(Outcome(image))
            continue
        crop = align_face(rgb, detections[0])[None]
        started = time.perf_counter()
        ages, female = predictor.predict_crops(crop)
        elapsed_ms = (time.perf_counter() - started) * 1000
        female = predictor.calibrated_female(female, np.array([detections[0].box[2]]))
        outcomes.append(Outcome(image, Prediction(float(ages[0]), float(female[0]), elapsed_ms)))
    return outcomes


def _group_metrics(found: Found) -> dict[str, Any]:
    if not found:
        return {"n": 0, "gender_accuracy": None, "age_mae": None}
    return {
        "n": len(found),
        "gender_accuracy": round(float(np.mean(gender_hits(found))), 4),
        "age_mae": round(float(np.mean(age_errors(found))), 3),
    }


def _gender_gap(groups: dict[str, dict[str, Any]]) -> float | None:
    """Best minus worst gender accuracy over the groups with enough faces to say."""
    accuracies = [m["gender_accuracy"] for m in groups.values() if m["n"] >= MIN_GROUP_SIZE]
    return round(max(accuracies) - min(accuracies), 4) if accuracies else None


def calibration(found: Found) -> dict[str, Any]:
    """Reliability of ``gender_confidence``: per confidence bin, how often it was right."""
    confidence = np.array([max(p.p_female, 1 - p.p_female) for _, p in found])
    correct = np.array(gender_hits(found))
    edges = np.linspace(0.5, 1.0, CALIBRATION_BINS // 2 + 1)
    bins, ece = [], 0.0
    for low, high in itertools.pairwise(edges):
        inside = (confidence >= low) & ((confidence < high) | (high == 1.0))
        if not inside.any():
            continue
        mean_confidence, accuracy = float(confidence[inside].mean()), float(correct[inside].mean())
        ece += inside.mean() * abs(mean_confidence - accuracy)
        bins.append(
            {
                "confidence": [round(float(low), 2), round(float(high), 2)],
                "n": int(inside.sum()),
                "mean_confidence": round(mean_confidence, 4),
                "accuracy": round(accuracy, 4),
            }
        )
    return {"expected_calibration_error": round(float(ece), 4), "bins": bins}


def summarise(outcomes: list[Outcome], model_version: str) -> dict[str, Any]:
    """The evaluation JSON: overall, per ethnicity group, per age band, calibration."""
    found = faces_found(outcomes)
    overall = _group_metrics(found)
    by_race: dict[int, Found] = defaultdict(list)
    by_band: dict[str, Found] = defaultdict(list)
    for image, prediction in found:
        by_race[image.race].append((image, prediction))
        by_band[age_band(image.age)].append((image, prediction))
    per_race = {str(race): _group_metrics(by_race[race]) for race in sorted(by_race)}
    per_race_older = {
        str(race): _group_metrics([f for f in by_race[race] if f[0].age >= FAIRNESS_MIN_AGE])
        for race in sorted(by_race)
    }
    band_hits = [age_band(p.age) == age_band(image.age) for image, p in found]
    confusion = [[0, 0], [0, 0]]  # rows: true male/female, columns: predicted
    for image, prediction in found:
        confusion[image.gender][int(prediction.female)] += 1
    return {
        "n_images": len(outcomes),
        "n_faces_found": len(found),
        "faces_found_rate": round(len(found) / max(1, len(outcomes)), 4),
        "gender_accuracy": overall["gender_accuracy"],
        "age_mae": overall["age_mae"],
        "age_band_accuracy": round(float(np.mean(band_hits)), 4) if band_hits else None,
        "per_race": per_race,
        "race_names": {str(k): v for k, v in RACE_NAMES.items()},
        "gender_accuracy_gap_between_races": _gender_gap(per_race),
        f"per_race_age_{FAIRNESS_MIN_AGE}_plus": per_race_older,
        f"gender_accuracy_gap_between_races_age_{FAIRNESS_MIN_AGE}_plus": _gender_gap(
            per_race_older
        ),
        "per_age_band": {b: _group_metrics(by_band[b]) for b in BAND_NAMES if b in by_band},
        "gender_confusion": {"rows_true": ["male", "female"], "matrix": confusion},
        "gender_calibration": calibration(found) if found else None,
        "ms_per_face_median": (
            round(statistics.median(p.model_ms for _, p in found), 3) if found else None
        ),
        "model_version": model_version,
    }


def write_plots(outcomes: list[Outcome], report: dict[str, Any], folder: Path) -> list[Path]:
    """The model card's figures: confusion matrix, MAE by band, fairness, calibration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(2, 2, figsize=(11, 8.5))
    confusion = np.array(report["gender_confusion"]["matrix"])
    axes[0, 0].imshow(confusion, cmap="Blues")
    for (row, column), count in np.ndenumerate(confusion):
        axes[0, 0].text(column, row, str(count), ha="center", va="center")
    axes[0, 0].set(
        xticks=[0, 1],
        yticks=[0, 1],
        xticklabels=["male", "female"],
        yticklabels=["male", "female"],
        xlabel="predicted",
        ylabel="true",
        title="Gender confusion matrix",
    )
    bands = list(report["per_age_band"])
    axes[0, 1].bar(bands, [report["per_age_band"][b]["age_mae"] for b in bands], color="tab:orange")
    axes[0, 1].set(title="Age MAE by age band (years)", ylabel="MAE")
    races = list(report["per_race"])
    names = [report["race_names"].get(r, r) for r in races]
    positions = np.arange(len(races))
    axes[1, 0].bar(
        positions - 0.2,
        [report["per_race"][r]["gender_accuracy"] for r in races],
        0.4,
        label="gender accuracy",
    )
    twin = axes[1, 0].twinx()
    twin.bar(
        positions + 0.2,
        [report["per_race"][r]["age_mae"] for r in races],
        0.4,
        color="tab:green",
        label="age MAE",
    )
    axes[1, 0].set(
        xticks=positions,
        xticklabels=names,
        ylim=(0.8, 1.0),
        title="By ethnicity group (evaluation only)",
        ylabel="gender accuracy",
    )
    twin.set_ylabel("age MAE (years)")
    bins = report["gender_calibration"]["bins"]
    axes[1, 1].plot([0.5, 1], [0.5, 1], "k--", linewidth=1)
    axes[1, 1].plot([b["mean_confidence"] for b in bins], [b["accuracy"] for b in bins], "o-")
    axes[1, 1].set(title="Gender confidence calibration", xlabel="confidence", ylabel="accuracy")
    figure.tight_layout()
    summary = folder / "evaluation.png"
    figure.savefig(summary, dpi=80)
    plt.close(figure)

    # Fairness by ethnicity group x age band: the cells where the model is weakest.
    figure, axis = plt.subplots(figsize=(9, 4))
    grid = np.full((len(races), len(BAND_NAMES)), np.nan)
    cells: dict[tuple[int, int], list[bool]] = defaultdict(list)
    for image, prediction in faces_found(outcomes):
        if str(image.race) in races:
            key = (races.index(str(image.race)), BAND_NAMES.index(age_band(image.age)))
            cells[key].append(prediction.female == bool(image.gender))
    for (row, column), hits in cells.items():
        grid[row, column] = np.mean(hits)
    heatmap = axis.imshow(grid, cmap="RdYlGn", vmin=0.6, vmax=1.0)
    for (row, column), hits in cells.items():
        axis.text(
            column,
            row,
            f"{np.mean(hits):.2f}\n(n={len(hits)})",
            ha="center",
            va="center",
            fontsize=7,
        )
    axis.set(
        xticks=range(len(BAND_NAMES)),
        xticklabels=BAND_NAMES,
        yticks=range(len(races)),
        yticklabels=names,
        title="Gender accuracy by ethnicity group x age band",
    )
    figure.colorbar(heatmap)
    figure.tight_layout()
    fairness = folder / "fairness.png"
    figure.savefig(fairness, dpi=80)
    plt.close(figure)
    return [summary, fairness]
