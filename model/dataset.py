"""Labelled face images: a folder named ``[age]_[gender]_[race]_[date].jpg...`` or a CSV.

The split is by a hash of the file name, so it is deterministic, independent of
file order, and an image keeps its side of the split when the folder grows.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MAX_AGE = 116
VALIDATION_PERCENT = 15
# Held out from training and from the reported figures: fits the gender confidence's temperature.
CALIBRATION_PERCENT = 5


@dataclass(frozen=True)
class LabelledImage:
    """One training example. ``race`` is kept for fairness evaluation only (-1 if unknown)."""

    path: Path
    age: int
    gender: int  # 0 male, 1 female
    race: int = -1

    @property
    def split(self) -> str:
        """``validation`` (reported), ``calibration`` (fits confidences) or ``train``."""
        digest = hashlib.sha1(self.path.name.encode()).digest()
        bucket = int.from_bytes(digest[:4], "big") % 100
        if bucket < VALIDATION_PERCENT:
            return "validation"
        if bucket < VALIDATION_PERCENT + CALIBRATION_PERCENT:
            return "calibration"
        return "train"


@dataclass(frozen=True)
class LoadResult:
    images: list[LabelledImage]
    skipped: list[tuple[str, str]]  # (file name, why)


def parse_name(name: str) -> tuple[int, int, int]:
    """Parse ``age_gender_race_date...``; raise ValueError saying which field is wrong."""
    fields = name.split("_")
    if len(fields) < 4:
        raise ValueError(f"expected age_gender_race_date, found {len(fields)} fields")
    age, gender, race = (
        _int_field(fields[0], "age"),
        _int_field(fields[1], "gender"),
        _int_field(fields[2], "race"),
    )
    _check_labels(age, gender)
    if not 0 <= race <= 4:
        raise ValueError(f"race {race} outside 0..4")
    return age, gender, race


def _int_field(text: str, field: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{field} {text!r} is not an integer") from None


def _check_labels(age: int, gender: int) -> None:
    if not 0 <= age <= MAX_AGE:
        raise ValueError(f"age {age} outside 0..{MAX_AGE}")
    if gender not in (0, 1):
        raise ValueError(f"gender {gender} is not 0 (male) or 1 (female)")


def load_folder(folder: Path) -> LoadResult:
    """Every image in a folder whose name carries its labels; malformed names are skipped."""
    if not folder.is_dir():
        raise FileNotFoundError(f"no such folder: {folder}")
    images, skipped = [], []
    for path in sorted(folder.iterdir()):
        if not path.name.lower().endswith(IMAGE_SUFFIXES):
            continue
        try:
            age, gender, race = parse_name(path.name)
        except ValueError as exc:
            skipped.append((path.name, str(exc)))
            continue
        images.append(LabelledImage(path, age, gender, race))
    return LoadResult(images, skipped)


def load_csv(csv_path: Path) -> LoadResult:
    """Rows of ``path,age,gender`` (a header row is allowed); paths relative to the CSV."""
    images, skipped = [], []
    with open(csv_path, newline="") as file:
        for line_number, row in enumerate(csv.reader(file), start=1):
            if not row or (line_number == 1 and row[0].strip().lower() == "path"):
                continue
            label = f"{csv_path.name}:{line_number}"
            try:
                if len(row) < 3:
                    raise ValueError(f"expected path,age,gender, found {len(row)} fields")
                age, gender = (
                    _int_field(row[1].strip(), "age"),
                    _int_field(row[2].strip(), "gender"),
                )
                _check_labels(age, gender)
            except ValueError as exc:
                skipped.append((label, str(exc)))
                continue
            images.append(LabelledImage(csv_path.parent / row[0].strip(), age, gender))
    return LoadResult(images, skipped)


def load_dataset(source: Path) -> LoadResult:
    """A folder of labelled names, or a CSV file."""
    return load_csv(source) if source.suffix.lower() == ".csv" else load_folder(source)
