"""``python -m model bench-real``: the served pipeline on annotated real photographs.

Each set is a folder of images and a ``truth.json`` (``model/real_sets.py`` writes them from
public sets). Every image is decoded and run through the predictor, as a frame is in serving;
a detection matches the true face whose box holds its centre, the best-scored detection first,
each true face at most once. Per set the report gives recall by true face width, detections
that match no true face per image, gender accuracy and age MAE where the set has labels (by
age band and gender too), and milliseconds per image (decode and predict; on one core when the
run is pinned, as ``make bench-real`` does).
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from model import machine
from model.bands import BAND_NAMES, GENDERS, age_band
from model.confidence import FACE_PX_BUCKETS, bucket_name, face_px_bucket
from model.images import ImageRejected, read_image
from model.real_sets import TruthFace, read_about, read_truth

Box = tuple[float, float, float, float]

# What the figures single out: older women (read as men before issue 21) and children.
OLDER_WOMEN_FROM_AGE = 40
CHILDREN_UNDER_AGE = 13

HOW_TO_GET_SETS = """\
No real photographs to measure: set REAL_DATA (folders separated by '{sep}', each a set or a
folder of sets) or pass --data. Make the sets from local copies of the public sources:

    git clone --depth 1 https://github.com/marellanoc/MaskON
    git clone --depth 1 https://github.com/davisking/dlib
    git clone --depth 1 https://github.com/middleyuan/All-Age-Faces-Dataset
    python -m model real-sets --out ../real --maskon MaskON/archive \\
        --dlib dlib/examples/faces --aaf "All-Age-Faces-Dataset/All-Age-Faces Dataset"
    REAL_DATA=../real make bench-real

Their licences and what each may be used for: README.md, "Real photographs"."""


class FoundFace(Protocol):
    """What the benchmark reads of a predicted face (``model.predictor.Face`` has it)."""

    @property
    def box(self) -> tuple[int, int, int, int]: ...
    @property
    def score(self) -> float: ...
    @property
    def age(self) -> float: ...
    @property
    def gender(self) -> str: ...


class RealPredictor(Protocol):
    """The served predictor, or a fake in tests."""

    @property
    def model_version(self) -> str: ...

    def predict(self, rgb: np.ndarray, min_face_px: float | None = None) -> Sequence[FoundFace]: ...


@dataclass(frozen=True)
class Outcome:
    """One true face and the detection matched to it (None: missed)."""

    truth: TruthFace
    found: FoundFace | None


def centre(box: Sequence[float]) -> tuple[float, float]:
    x, y, w, h = box
    return x + w / 2, y + h / 2


def holds(box: Sequence[float], point: tuple[float, float]) -> bool:
    """Whether a box (x, y, w, h) holds a point, edges included."""
    x, y, w, h = box
    return x <= point[0] <= x + w and y <= point[1] <= y + h


def match_by_centre(
    truths: Sequence[TruthFace], found: Sequence[FoundFace]
) -> tuple[list[Outcome], int]:
    """Match detections to true faces; returns an outcome per true face and the unmatched count.

    Detections are taken best score first; each matches a true face whose box holds its
    centre and that is not matched yet (of several, the one whose centre is nearest). A
    detection with no such face matches nothing: a false face where every face is boxed.
    """
    matched: list[FoundFace | None] = [None] * len(truths)
    unmatched = 0
    for face in sorted(found, key=lambda f: -f.score):
        point = centre(face.box)
        free = [i for i, t in enumerate(truths) if matched[i] is None and holds(t.box, point)]
        if not free:
            unmatched += 1
            continue
        nearest = min(free, key=lambda i: math.dist(centre(truths[i].box), point))
        matched[nearest] = face
    return [Outcome(t, f) for t, f in zip(truths, matched, strict=True)], unmatched


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def recall(outcomes: Sequence[Outcome]) -> float | None:
    """Share of true faces found (None for no faces)."""
    return _ratio(sum(o.found is not None for o in outcomes), len(outcomes))


def label_readings(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Gender accuracy and age MAE over found faces that carry the label (empty: no labels)."""
    readings: dict[str, Any] = {}
    gendered = [(o.truth.gender, o.found.gender) for o in outcomes if o.found and o.truth.gender]
    if gendered:
        readings["n_gender"] = len(gendered)
        readings["gender_accuracy"] = _ratio(sum(t == f for t, f in gendered), len(gendered))
    aged = [(o.truth.age, o.found.age) for o in outcomes if o.found and o.truth.age is not None]
    if aged:
        readings["n_age"] = len(aged)
        readings["age_mae"] = round(statistics.fmean(abs(t - f) for t, f in aged), 3)
    return readings


def by_face_width(outcomes: Sequence[Outcome]) -> dict[str, dict[str, Any]]:
    """Recall (and label readings where labelled) per true face width bucket."""
    buckets: dict[str, list[Outcome]] = {bucket_name(*edges): [] for edges in FACE_PX_BUCKETS}
    for outcome in outcomes:
        buckets[face_px_bucket(outcome.truth.box[2])].append(outcome)
    return {
        name: {
            "n": len(inside),
            "found": sum(o.found is not None for o in inside),
            "recall": recall(inside),
            **label_readings(inside),
        }
        for name, inside in buckets.items()
    }


def by_band_and_gender(outcomes: Sequence[Outcome]) -> dict[str, dict[str, Any]]:
    """Recall, gender accuracy and age MAE per true age band and gender (``"senior female"``)."""
    cells: dict[str, dict[str, Any]] = {}
    for band in BAND_NAMES:
        for gender in GENDERS:
            inside = [
                o
                for o in outcomes
                if o.truth.gender == gender
                and o.truth.age is not None
                and age_band(o.truth.age) == band
            ]
            if inside:
                cells[f"{band} {gender}"] = {
                    "n": len(inside),
                    "recall": recall(inside),
                    **label_readings(inside),
                }
    return cells


def read_as_their_gender(outcomes: Sequence[Outcome], keep: Callable[[TruthFace], bool]) -> Any:
    """Share of found faces that ``keep`` selects whose gender is read right (None: none)."""
    chosen = [o for o in outcomes if o.found is not None and o.truth.gender and keep(o.truth)]
    return _ratio(sum(o.found.gender == o.truth.gender for o in chosen if o.found), len(chosen))


def labelled_figures(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The issue's age and gender figures: overall, per band x gender, older women, children."""
    labelled = [o for o in outcomes if o.truth.gender is not None or o.truth.age is not None]
    if not labelled:
        return {}

    def woman_over(t: TruthFace) -> bool:
        return t.gender == "female" and t.age is not None and t.age >= OLDER_WOMEN_FROM_AGE

    def child(gender: str) -> Callable[[TruthFace], bool]:
        return lambda t: t.gender == gender and t.age is not None and t.age < CHILDREN_UNDER_AGE

    return {
        **label_readings(labelled),
        f"women_{OLDER_WOMEN_FROM_AGE}_plus_read_as_women": read_as_their_gender(
            labelled, woman_over
        ),
        f"children_under_{CHILDREN_UNDER_AGE}_gender_accuracy": {
            "boys": read_as_their_gender(labelled, child("male")),
            "girls": read_as_their_gender(labelled, child("female")),
        },
        "by_age_band_and_gender": by_band_and_gender(labelled),
    }


def milliseconds_summary(milliseconds: Sequence[float]) -> dict[str, float | None]:
    """Median, 95th percentile and mean of per-image times."""
    if not milliseconds:
        return {"median": None, "p95": None, "mean": None}
    ordered = sorted(milliseconds)
    return {
        "median": round(statistics.median(ordered), 2),
        "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
        "mean": round(statistics.fmean(ordered), 2),
    }


def score_set(
    outcomes: Sequence[Outcome], unmatched: int, n_images: int, milliseconds: Sequence[float]
) -> dict[str, Any]:
    """One set's report from its outcomes, unmatched detections and per-image times."""
    return {
        "n_images": n_images,
        "n_faces": len(outcomes),
        "recall": recall(outcomes),
        "unmatched_per_image": round(unmatched / n_images, 4) if n_images else None,
        "by_face_px": by_face_width(outcomes),
        **labelled_figures(outcomes),
        "ms_per_image": milliseconds_summary(milliseconds),
    }


def evenly_spaced(names: Sequence[str], limit: int | None) -> list[str]:
    """At most ``limit`` names, evenly spaced through the sorted list (all when None)."""
    ordered = sorted(names)
    if not limit or limit >= len(ordered):
        return ordered
    step = len(ordered) / limit
    return [ordered[int(i * step)] for i in range(limit)]


def run_set(
    folder: Path,
    truth: dict[str, list[TruthFace]],
    predictor: RealPredictor,
    min_face_px: float | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Decode and predict every image of one set folder (or ``limit`` of them); its report.

    ``truth`` is the folder's ``truth.json`` (``model.real_sets.read_truth``).
    """
    names = evenly_spaced(list(truth), limit)
    outcomes: list[Outcome] = []
    unmatched, milliseconds, unreadable = 0, [], []
    for name in names:
        started = time.perf_counter()
        try:
            rgb = read_image(str(folder / name))
        except ImageRejected as exc:
            unreadable.append(f"{name}: {exc.reason}")
            continue
        found = predictor.predict(rgb, min_face_px=min_face_px)
        milliseconds.append((time.perf_counter() - started) * 1000)
        image_outcomes, image_unmatched = match_by_centre(truth[name], found)
        outcomes += image_outcomes
        unmatched += image_unmatched
    about = read_about(folder)
    report = {
        "folder": str(folder),
        "every_face_boxed": about.get("exhaustive"),
        "sampled": f"{len(names)} of {len(truth)} images" if len(names) < len(truth) else None,
        **score_set(outcomes, unmatched, len(milliseconds), milliseconds),
    }
    if unreadable:
        report["unreadable"] = unreadable
    return report


def bench_real(
    folders: Sequence[Path],
    out: Path,
    predictor: RealPredictor | None = None,
    min_face_px: float | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Measure every set folder, print a table per set and write the report to ``out``."""
    # Every truth file is read before the model loads: a malformed one costs nothing.
    truths = {folder: read_truth(folder) for folder in folders}
    if predictor is None:
        from model.predictor import load_predictor

        predictor = load_predictor(num_threads=1)
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine.describe(),
        "model_version": predictor.model_version,
        "min_face_px": min_face_px,
        "limit_per_set": limit,
        "sets": {},
    }
    for folder, truth in truths.items():
        result = run_set(folder, truth, predictor, min_face_px, limit)
        report["sets"][folder.name] = result
        print_set(folder.name, result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return report


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def print_set(name: str, result: dict[str, Any]) -> None:
    """A set's figures as a short table."""
    boxed = {True: "every face boxed", False: "not every face boxed"}.get(
        result["every_face_boxed"], "boxing unknown"
    )
    timing = result["ms_per_image"]
    print(
        f"\n{name}: {result['n_images']} images, {result['n_faces']} faces ({boxed}), "
        f"recall {_cell(result['recall'])}, {result['unmatched_per_image']} unmatched "
        f"detections per image, {_cell(timing['median'])} ms per image median"
        + (f" [{result['sampled']}]" if result["sampled"] else "")
    )
    print(f"{'face px':>8} {'n':>5} {'recall':>7} {'gender':>7} {'age MAE':>7}")
    for bucket, entry in result["by_face_px"].items():
        cells = [entry.get(k) for k in ("recall", "gender_accuracy", "age_mae")]
        print(f"{bucket:>8} {entry['n']:>5} " + " ".join(f"{_cell(v):>7}" for v in cells))
    if "by_age_band_and_gender" not in result:
        return
    children = result[f"children_under_{CHILDREN_UNDER_AGE}_gender_accuracy"]
    print(
        f"gender {_cell(result.get('gender_accuracy'))}, age MAE {_cell(result.get('age_mae'))}, "
        f"women {OLDER_WOMEN_FROM_AGE}+ read as women "
        f"{_cell(result[f'women_{OLDER_WOMEN_FROM_AGE}_plus_read_as_women'])}, "
        f"children under {CHILDREN_UNDER_AGE}: boys {_cell(children['boys'])}, "
        f"girls {_cell(children['girls'])}"
    )
    print(f"{'band':>20} {'n':>5} {'recall':>7} {'gender':>7} {'age MAE':>7}")
    for cell, entry in result["by_age_band_and_gender"].items():
        values = [entry.get(k) for k in ("recall", "gender_accuracy", "age_mae")]
        print(f"{cell:>20} {entry['n']:>5} " + " ".join(f"{_cell(v):>7}" for v in values))
