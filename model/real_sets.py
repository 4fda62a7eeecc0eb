"""Annotated real photographs in the benchmark's folder format, from local copies of public sets.

A set is one folder: its images (symlinks to the local copy: nothing is copied, nothing enters
the repository), a ``truth.json`` of
``{"file.jpg": [{"box": [x, y, w, h], "gender": "male"|"female"|null, "age": number|null}]}``,
a ``set.json`` saying where the photographs come from, their licence, what they may be used
for and whether every face in them is boxed, and the same in a ``README.md`` for people.
``python -m model real-sets`` writes them; ``python -m model bench-real`` reads them.

- ``maskon-tune`` / ``maskon-report``: the 853 Kaggle "Face Mask Detection" photographs (CC0)
  as copied into github.com/marellanoc/MaskON ``archive/``; the archive's other files come
  from elsewhere and are left out. Half by a hash of the name to tune on, half only to report.
- ``dlib-faces``: the PASCAL VOC photographs in dlib's ``examples/faces`` with the boxes of its
  ``training.xml`` and ``testing.xml``; every face is boxed.
- ``aaf-held``: the part of All-Age-Faces' ``image sets/train.txt`` that
  ``model.dataset.all_age_faces_split`` holds out (``val.txt`` is never read), with age and
  gender labels and a face box grown from its 49 landmarks.
"""

from __future__ import annotations

import hashlib
import json
import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.bands import GENDERS
from model.dataset import (
    ALL_AGE_FACES_IMAGES,
    all_age_faces_split,
    is_all_age_faces,
    load_all_age_faces,
)

TRUTH_FILE = "truth.json"
ABOUT_FILE = "set.json"

MASKON_PREFIX = "maksssksksss"  # the Kaggle set's own (misspelt) file names
DLIB_LISTS = ("training.xml", "testing.xml")
AAF_LANDMARKS = "key points"


@dataclass(frozen=True)
class TruthFace:
    """One annotated face: ``box`` is (x, y, w, h) in image pixels; labels may be unknown."""

    box: tuple[float, float, float, float]
    gender: str | None = None
    age: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"box": [round(v, 1) for v in self.box], "gender": self.gender, "age": self.age}

    @classmethod
    def from_dict(cls, entry: dict[str, Any]) -> TruthFace:
        """Read one face of ``truth.json``; raises ValueError on a malformed entry."""
        box = entry.get("box")
        if not isinstance(box, list) or len(box) != 4:
            raise ValueError(f"a face needs a box of [x, y, w, h], found {box!r}")
        gender = entry.get("gender")
        if gender not in (None, *GENDERS):
            raise ValueError(f"gender must be male, female or null, found {gender!r}")
        age = entry.get("age")
        return cls(
            (float(box[0]), float(box[1]), float(box[2]), float(box[3])),
            gender,
            None if age is None else float(age),
        )


@dataclass(frozen=True)
class About:
    """Where a set's photographs come from and what they may be used for."""

    source: str
    licence: str
    use: str
    # Every face in every image boxed: only then is a detection without a true face a false one.
    exhaustive: bool
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RealSet:
    name: str
    about: About
    images: dict[Path, list[TruthFace]]  # source image -> its faces


KAGGLE_MASKS = About(
    source="Kaggle 'Face Mask Detection' (andrewmvd), 853 street and crowd photographs with "
    "VOC boxes, as copied into github.com/marellanoc/MaskON archive/images + archive/annotations",
    licence="CC0 1.0 (public domain dedication)",
    use="any use, training and tuning included; here maskon-tune is tuned on and "
    "maskon-report only reported",
    exhaustive=False,
    notes=[
        "Most faces wear a mask. Every box (with, without or with a badly worn mask) is a face.",
        "Some background faces are not boxed: detections that match no true face are an upper "
        "bound on false faces here.",
        "Split by sha1 of the file name without its extension: even to tune, odd to report.",
    ],
)

DLIB_FACES = About(
    source="dlib's examples/faces (github.com/davisking/dlib): PASCAL VOC 2011 photographs "
    "with the face boxes of training.xml and testing.xml",
    licence="the annotations ship in dlib under the Boost Software License 1.0; the "
    "photographs are PASCAL VOC 2011 images from Flickr, whose use VOC asks to respect "
    "Flickr's terms of use",
    use="evaluation only; not redistributed, not trained on",
    exhaustive=True,
    notes=["Every face is boxed: detections that match no true face are false faces."],
)

ALL_AGE_FACES = About(
    source="All-Age-Faces (github.com/JingchunCheng/All-Age-Faces-Dataset, mirrored by "
    "middleyuan/All-Age-Faces-Dataset): portraits, mostly East-Asian, ages 2-80",
    licence="no licence file; released by its authors for age and gender research, asking "
    "for a citation of Cheng et al. 2019 (Tsinghua Science and Technology 24(3))",
    use="research; only the images of image sets/train.txt are used, and of those this held "
    "part is only reported (its val.txt is kept for independent evaluation and never read); "
    "not redistributed",
    exhaustive=False,
    notes=[
        "One face is boxed per portrait; a second face in the background would count against "
        "the finder.",
        "Age from the file name, gender by id (0..7380 female). The box is grown from the 49 "
        "landmarks (brows, eyes, nose, mouth) to forehead and chin, so it is approximate: "
        "enough to match a detection by its centre.",
    ],
)


def split_half(name: str) -> str:
    """``tune`` or ``report`` by sha1 of the name without its extension (a .png copy agrees)."""
    stem = name.rsplit(".", 1)[0]
    return "tune" if int(hashlib.sha1(stem.encode()).hexdigest(), 16) % 2 == 0 else "report"


def voc_boxes(annotation: Path) -> tuple[str, list[TruthFace]]:
    """The image file name and face boxes of one PASCAL VOC XML annotation."""
    root = ElementTree.parse(annotation).getroot()
    faces = []
    for box in root.iter("bndbox"):
        left, top, right, bottom = (float(box.findtext(k, "nan")) for k in _VOC_CORNERS)
        faces.append(TruthFace((left, top, right - left, bottom - top)))
    return root.findtext("filename", ""), faces


_VOC_CORNERS = ("xmin", "ymin", "xmax", "ymax")


def maskon_sets(archive: Path) -> tuple[RealSet, RealSet]:
    """``maskon-tune`` and ``maskon-report`` from MaskON's ``archive`` folder."""
    annotations = sorted((archive / "annotations").glob(f"{MASKON_PREFIX}*.xml"))
    if not annotations:
        raise FileNotFoundError(f"no {MASKON_PREFIX}*.xml in {archive / 'annotations'}")
    halves: dict[str, dict[Path, list[TruthFace]]] = {"tune": {}, "report": {}}
    for annotation in annotations:
        _, faces = voc_boxes(annotation)
        # The XML names a .jpg whatever the copy holds (Kaggle's own are .png): go by the stem.
        image = _image_for(archive / "images", annotation.stem)
        halves[split_half(image.name)][image] = faces
    return (
        RealSet("maskon-tune", KAGGLE_MASKS, halves["tune"]),
        RealSet("maskon-report", KAGGLE_MASKS, halves["report"]),
    )


def _image_for(folder: Path, stem: str) -> Path:
    for suffix in (".png", ".jpg", ".jpeg"):
        if (folder / f"{stem}{suffix}").is_file():
            return folder / f"{stem}{suffix}"
    raise FileNotFoundError(f"no image for {stem} in {folder}")


def dlib_set(faces_dir: Path) -> RealSet:
    """``dlib-faces``: the images and boxes of dlib's ``training.xml`` and ``testing.xml``."""
    images: dict[Path, list[TruthFace]] = {}
    for listing in DLIB_LISTS:
        if not (faces_dir / listing).is_file():
            raise FileNotFoundError(f"no {listing} in {faces_dir}")
        for image in ElementTree.parse(faces_dir / listing).getroot().iter("image"):
            boxes = [_dlib_face(b) for b in image.iter("box") if b.get("ignore") != "1"]
            images.setdefault(faces_dir / image.get("file", ""), []).extend(boxes)
    return RealSet("dlib-faces", DLIB_FACES, images)


def _dlib_face(box: ElementTree.Element) -> TruthFace:
    left, top, width, height = (
        float(box.get(k, "nan")) for k in ("left", "top", "width", "height")
    )
    return TruthFace((left, top, width, height))


def face_box_from_landmarks(points: np.ndarray) -> tuple[float, float, float, float]:
    """A face box (x, y, w, h) around the 49 IntraFace landmarks of an All-Age-Faces portrait.

    The landmarks are the brows (0-9), nose (10-18), eyes (19-30) and mouth (31-48): no jaw
    line. The brows' span widened 1.25 times gives the face's width; the forehead reaches half
    the eye-to-mouth distance above the brows and the chin 0.7 of it below the mouth, which is
    where a face finder's box lies on these portraits.
    """
    if points.shape != (49, 2):
        raise ValueError(f"expected 49 (x, y) landmarks, found an array of {points.shape}")
    brows, eyes, mouth = points[0:10], points[19:31], points[31:49]
    left, right = float(brows[:, 0].min()), float(brows[:, 0].max())
    width = (right - left) * 1.25
    eye_to_mouth = float(mouth[:, 1].mean() - eyes[:, 1].mean())
    top = float(brows[:, 1].min()) - 0.5 * eye_to_mouth
    bottom = float(mouth[:, 1].mean()) + 0.7 * eye_to_mouth
    centre = (left + right) / 2
    return (centre - width / 2, top, width, bottom - top)


def aaf_held_set(root: Path) -> RealSet:
    """``aaf-held``: the held part of All-Age-Faces' train list, labelled, boxed from landmarks."""
    if not is_all_age_faces(root):
        raise FileNotFoundError(f"{root} is not a copy of All-Age-Faces (no train list)")
    images: dict[Path, list[TruthFace]] = {}
    for labelled in load_all_age_faces(root).images:
        if all_age_faces_split(labelled.path.name) != "held":
            continue
        points = np.loadtxt(root / AAF_LANDMARKS / f"{labelled.path.stem}.txt", ndmin=2)
        gender = GENDERS[labelled.gender]
        box = face_box_from_landmarks(points)
        images[root / ALL_AGE_FACES_IMAGES / labelled.path.name] = [
            TruthFace(box, gender, float(labelled.age))
        ]
    return RealSet("aaf-held", ALL_AGE_FACES, images)


def write_set(real_set: RealSet, out: Path) -> Path:
    """Write a set's folder under ``out`` (images symlinked); returns the folder."""
    folder = out / real_set.name
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for source, faces in sorted(real_set.images.items()):
        link = folder / source.name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(source.resolve())
        truth[source.name] = [face.to_dict() for face in faces]
    # One image a line: readable, and a diff of two conversions shows which images changed.
    lines = [f"{json.dumps(name)}: {json.dumps(faces)}" for name, faces in truth.items()]
    (folder / TRUTH_FILE).write_text("{\n" + ",\n".join(lines) + "\n}\n")
    about = {"name": real_set.name, **real_set.about.__dict__}
    (folder / ABOUT_FILE).write_text(json.dumps(about, indent=2) + "\n")
    n_faces = sum(len(faces) for faces in truth.values())
    (folder / "README.md").write_text(
        f"# {real_set.name}\n\n{len(truth)} images, {n_faces} boxed faces.\n\n"
        f"- Source: {real_set.about.source}\n- Licence: {real_set.about.licence}\n"
        f"- Use: {real_set.about.use}\n- Every face boxed: "
        f"{'yes' if real_set.about.exhaustive else 'no'}\n"
        + "".join(f"- {note}\n" for note in real_set.about.notes)
    )
    return folder


def build_real_sets(
    out: Path, maskon: Path | None = None, dlib: Path | None = None, aaf: Path | None = None
) -> list[Path]:
    """Convert each local copy given into its set folder(s) under ``out``."""
    sets: list[RealSet] = []
    if maskon is not None:
        sets += maskon_sets(maskon)
    if dlib is not None:
        sets.append(dlib_set(dlib))
    if aaf is not None:
        sets.append(aaf_held_set(aaf))
    if not sets:
        raise ValueError("name at least one local copy: --maskon, --dlib or --aaf")
    return [write_set(real_set, out) for real_set in sets]


def read_truth(folder: Path) -> dict[str, list[TruthFace]]:
    """A set folder's ``truth.json``; raises ValueError saying what is wrong with it."""
    try:
        raw = json.loads((folder / TRUTH_FILE).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{folder / TRUTH_FILE} is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{folder / TRUTH_FILE} must map file names to lists of faces")
    try:
        return {name: [TruthFace.from_dict(face) for face in faces] for name, faces in raw.items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"{folder / TRUTH_FILE}: {exc}") from None


def read_about(folder: Path) -> dict[str, Any]:
    """A set folder's ``set.json`` (empty if it has none: a set made by hand)."""
    path = folder / ABOUT_FILE
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def set_folders(roots: Iterable[Path]) -> list[Path]:
    """Each root that is a set (it has a ``truth.json``), or the sets directly inside it."""
    folders: list[Path] = []
    for root in roots:
        if (root / TRUTH_FILE).is_file():
            folders.append(root)
            continue
        if not root.is_dir():
            raise FileNotFoundError(f"no such folder: {root}")
        inside = sorted(p for p in root.iterdir() if (p / TRUTH_FILE).is_file())
        if not inside:
            raise FileNotFoundError(f"no {TRUTH_FILE} in {root} or the folders inside it")
        folders += inside
    return folders


def real_data_roots(setting: str | None) -> list[Path]:
    """The folders named by a ``REAL_DATA`` value (``os.pathsep``-separated; empty: none)."""
    return [Path(part) for part in (setting or "").split(os.pathsep) if part]
