"""Labelled face images: a folder named ``[age]_[gender]_[race]_[date].jpg...``, a CSV, or a
local copy of the All-Age-Faces dataset.

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

# All-Age-Faces (github.com/JingchunCheng/All-Age-Faces-Dataset, as mirrored by
# middleyuan/All-Age-Faces-Dataset): 13,322 portraits, mostly East-Asian, ages 2-80 in the file
# name (``00123A45.jpg``: id 123, age 45); ids up to 7380 are women. Only the images listed in
# its ``image sets/train.txt`` are ever read: its ``val.txt`` half is kept for independent
# evaluation, never for training, tuning or choosing.
ALL_AGE_FACES_TRAIN_LIST = Path("image sets") / "train.txt"
ALL_AGE_FACES_IMAGES = "original images"
ALL_AGE_FACES_LAST_FEMALE_ID = 7380
# Fairness figures keep All-Age-Faces as a group of its own beside UTKFace's five (0..4).
ALL_AGE_FACES_GROUP = 5


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
        return split_of(self.path.name)


def split_of(name: str) -> str:
    """The split of an image by its file name: ``validation``, ``calibration`` or ``train``."""
    digest = hashlib.sha1(name.encode()).digest()
    bucket = int.from_bytes(digest[:4], "big") % 100
    if bucket < VALIDATION_PERCENT:
        return "validation"
    if bucket < VALIDATION_PERCENT + CALIBRATION_PERCENT:
        return "calibration"
    return "train"


def all_age_faces_split(name: str) -> str:
    """``held`` for the All-Age-Faces train-list images the project only reports on (its
    validation split; ``python -m model bench-real`` reads them), else ``train`` or
    ``calibration``. Images of the dataset's own ``val.txt`` have no split here: never read."""
    split = split_of(name)
    return "held" if split == "validation" else split


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


def is_all_age_faces(folder: Path) -> bool:
    """Whether a folder is a local copy of All-Age-Faces (it has the dataset's train list)."""
    return (folder / ALL_AGE_FACES_TRAIN_LIST).is_file()


def load_all_age_faces(folder: Path) -> LoadResult:
    """The images of All-Age-Faces' train list, labelled from their names; never its val list.

    A line whose own gender column (0 female, 1 male) disagrees with the id range, or whose
    name does not parse, is skipped with the reason.
    """
    images, skipped = [], []
    train_list = folder / ALL_AGE_FACES_TRAIN_LIST
    for line_number, line in enumerate(train_list.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        name = fields[0]
        try:
            identity, age = _all_age_faces_labels(name)
            gender = 1 if identity <= ALL_AGE_FACES_LAST_FEMALE_ID else 0
            if len(fields) > 1 and fields[1] != str(1 - gender):
                raise ValueError(f"its list says gender {fields[1]}, its id says {1 - gender}")
            _check_labels(age, gender)
        except ValueError as exc:
            skipped.append((f"{train_list.name}:{line_number} {name}", str(exc)))
            continue
        path = folder / ALL_AGE_FACES_IMAGES / name
        images.append(LabelledImage(path, age, gender, ALL_AGE_FACES_GROUP))
    return LoadResult(images, skipped)


def _all_age_faces_labels(name: str) -> tuple[int, int]:
    """(id, age) from an All-Age-Faces name such as ``00123A45.jpg``."""
    stem = name.rsplit(".", 1)[0]
    identity, separator, age = stem.partition("A")
    if not separator:
        raise ValueError("expected IDAage, no 'A' in the name")
    return _int_field(identity, "id"), _int_field(age, "age")


def load_dataset(source: Path) -> LoadResult:
    """A folder of labelled names, a CSV file, or a local copy of All-Age-Faces."""
    if source.suffix.lower() == ".csv":
        return load_csv(source)
    if is_all_age_faces(source):
        return load_all_age_faces(source)
    return load_folder(source)


def load_datasets(sources: list[Path]) -> LoadResult:
    """Several sources as one set of labelled images, in the order given."""
    images, skipped = [], []
    for source in sources:
        loaded = load_dataset(source)
        images += loaded.images
        skipped += loaded.skipped
    return LoadResult(images, skipped)
