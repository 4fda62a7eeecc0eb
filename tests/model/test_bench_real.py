"""The real-photo benchmark's matching and figures, on hand-made sets and a fake predictor."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from model.bench_real import (
    bench_real,
    by_band_and_gender,
    by_face_width,
    evenly_spaced,
    labelled_figures,
    match_by_centre,
    run_set,
)
from model.real_sets import (
    TruthFace,
    face_box_from_landmarks,
    read_truth,
    real_data_roots,
    set_folders,
    split_half,
    voc_boxes,
)


@dataclass(frozen=True)
class FakeFace:
    box: tuple[int, int, int, int]
    score: float
    age: float = 30.0
    gender: str = "male"


class FakePredictor:
    """Answers each image by its width, and records the min_face_px it was asked for."""

    model_version = "fake-1"

    def __init__(self, faces_by_width):
        self.faces_by_width = faces_by_width
        self.asked = []

    def predict(self, rgb, min_face_px=None):
        self.asked.append(min_face_px)
        return self.faces_by_width.get(rgb.shape[1], [])


def truth(x, y, w, h, gender=None, age=None):
    return TruthFace((x, y, w, h), gender, age)


def test_a_detection_matches_the_true_face_whose_box_holds_its_centre():
    # GIVEN two true faces and a detection whose box overlaps the first but centres in the second
    truths = [truth(0, 0, 40, 40), truth(40, 0, 40, 40)]
    found = [FakeFace((30, 0, 40, 40), 0.9)]  # centre (50, 20): inside the second only
    # WHEN matched
    outcomes, unmatched = match_by_centre(truths, found)
    # THEN the second is found, the first missed, nothing left over
    assert [o.found for o in outcomes] == [None, found[0]]
    assert unmatched == 0


def test_the_best_scored_detection_takes_a_face_first_and_the_other_matches_nothing():
    # GIVEN one true face and two detections centred in it, the weaker listed first
    truths = [truth(0, 0, 100, 100)]
    weak, strong = FakeFace((10, 10, 60, 60), 0.3), FakeFace((20, 20, 60, 60), 0.95)
    # WHEN matched
    outcomes, unmatched = match_by_centre(truths, [weak, strong])
    # THEN the stronger one holds the face and the weaker counts as unmatched
    assert outcomes[0].found is strong
    assert unmatched == 1


def test_a_detection_in_nested_boxes_takes_the_free_face_with_the_nearest_centre():
    # GIVEN a small face inside a large one's box, and two detections at the small face
    truths = [truth(0, 0, 160, 160), truth(90, 90, 20, 20)]
    first, second = FakeFace((90, 90, 20, 20), 0.9), FakeFace((92, 92, 20, 20), 0.8)
    # WHEN matched
    outcomes, unmatched = match_by_centre(truths, [first, second])
    # THEN the first takes the small face (nearest centre); the second, still inside the large
    # face's box, takes the large one: each true face at most once
    assert outcomes[1].found is first
    assert outcomes[0].found is second
    assert unmatched == 0


def test_detections_outside_every_box_are_counted_unmatched():
    outcomes, unmatched = match_by_centre(
        [truth(0, 0, 10, 10)], [FakeFace((50, 50, 10, 10), 0.9), FakeFace((80, 80, 5, 5), 0.5)]
    )
    assert outcomes[0].found is None
    assert unmatched == 2


def test_recall_is_reported_per_true_face_width_bucket():
    # GIVEN faces of 20, 30 (found), 30 (missed) and 200 px (found)
    truths = [truth(0, 0, 20, 20), truth(100, 0, 30, 30), truth(200, 0, 30, 30)]
    truths.append(truth(300, 0, 200, 200))
    found = [FakeFace((100, 0, 30, 30), 0.9), FakeFace((300, 0, 200, 200), 0.9)]
    outcomes, _ = match_by_centre(truths, found)
    # WHEN bucketed by width
    buckets = by_face_width(outcomes)
    # THEN each face lands in its bucket and recall is found over n
    assert list(buckets) == ["<24", "24-32", "32-48", "48-80", "80-160", ">160"]
    assert buckets["<24"] == {"n": 1, "found": 0, "recall": 0.0}
    assert buckets["24-32"]["n"] == 2 and buckets["24-32"]["recall"] == 0.5
    assert buckets["32-48"] == {"n": 0, "found": 0, "recall": None}
    assert buckets[">160"]["recall"] == 1.0


def test_labelled_figures_single_out_older_women_and_children_by_gender():
    # GIVEN a 45-year-old woman read as a man, a 60-year-old woman read right,
    # a boy of 8 read right, a girl of 5 read as a boy, and a missed 30-year-old man
    truths = [
        truth(0, 0, 50, 50, "female", 45),
        truth(100, 0, 50, 50, "female", 60),
        truth(200, 0, 50, 50, "male", 8),
        truth(300, 0, 50, 50, "female", 5),
        truth(400, 0, 50, 50, "male", 30),
    ]
    found = [
        FakeFace((0, 0, 50, 50), 0.9, age=40, gender="male"),
        FakeFace((100, 0, 50, 50), 0.9, age=50, gender="female"),
        FakeFace((200, 0, 50, 50), 0.9, age=10, gender="male"),
        FakeFace((300, 0, 50, 50), 0.9, age=9, gender="male"),
    ]
    outcomes, _ = match_by_centre(truths, found)
    # WHEN the labelled figures are taken
    figures = labelled_figures(outcomes)
    # THEN gender and age are read over found faces only, and the named groups are split out
    assert figures["gender_accuracy"] == 0.5 and figures["n_gender"] == 4
    assert figures["age_mae"] == pytest.approx((5 + 10 + 2 + 4) / 4)
    assert figures["women_40_plus_read_as_women"] == 0.5
    assert figures["children_under_13_gender_accuracy"] == {"boys": 1.0, "girls": 0.0}
    cells = figures["by_age_band_and_gender"]
    assert cells["young_adult male"] == {"n": 1, "recall": 0.0}
    assert cells["senior female"]["gender_accuracy"] == 1.0
    assert cells["adult female"]["gender_accuracy"] == 0.0


def test_an_unlabelled_set_has_no_labelled_figures():
    outcomes, _ = match_by_centre([truth(0, 0, 50, 50)], [FakeFace((0, 0, 50, 50), 0.9)])
    assert labelled_figures(outcomes) == {}
    assert by_band_and_gender(outcomes) == {}


def test_evenly_spaced_sample_is_deterministic_and_spread():
    names = [f"{i:03d}.jpg" for i in range(10)]
    assert evenly_spaced(names[::-1], 5) == ["000.jpg", "002.jpg", "004.jpg", "006.jpg", "008.jpg"]
    assert evenly_spaced(names, None) == names


def _write_set(folder, images):
    """A set folder: {name: (width, faces)} with blank images of that width."""
    folder.mkdir(parents=True)
    truth_json = {}
    for name, (width, faces) in images.items():
        Image.new("RGB", (width, 60)).save(folder / name)
        truth_json[name] = faces
    (folder / "truth.json").write_text(json.dumps(truth_json))
    return folder


def test_run_set_scores_a_set_through_the_predictor_it_is_given(tmp_path):
    # GIVEN a set of two images, one face each, and a predictor that finds one of them plus a
    # false face
    folder = _write_set(
        tmp_path / "tiny",
        {
            "a.png": (100, [{"box": [10, 10, 30, 30], "gender": "female", "age": 50}]),
            "b.png": (120, [{"box": [10, 10, 30, 30], "gender": None, "age": None}]),
        },
    )
    predictor = FakePredictor(
        {100: [FakeFace((12, 12, 28, 28), 0.9, 48, "female"), FakeFace((70, 5, 20, 20), 0.4)]}
    )
    # WHEN run with a given smallest face
    report = run_set(folder, read_truth(folder), predictor, min_face_px=24)
    # THEN recall, unmatched detections per image and the labelled figures follow
    assert predictor.asked == [24, 24]
    assert report["n_images"] == 2 and report["n_faces"] == 2
    assert report["recall"] == 0.5
    assert report["unmatched_per_image"] == 0.5
    assert report["gender_accuracy"] == 1.0 and report["age_mae"] == 2.0
    assert report["ms_per_image"]["median"] is not None
    assert report["sampled"] is None


def test_bench_real_writes_one_report_per_set(tmp_path, capsys):
    folder = _write_set(tmp_path / "sets" / "one", {"a.png": (100, [])})
    out = tmp_path / "real.json"
    bench_real([folder], out, predictor=FakePredictor({100: [FakeFace((1, 1, 20, 20), 0.5)]}))
    report = json.loads(out.read_text())
    assert report["model_version"] == "fake-1"
    assert report["sets"]["one"]["unmatched_per_image"] == 1.0
    assert "one: 1 images" in capsys.readouterr().out


def test_set_folders_accepts_a_set_or_a_folder_of_sets(tmp_path):
    first = _write_set(tmp_path / "sets" / "first", {})
    second = _write_set(tmp_path / "sets" / "second", {})
    assert set_folders([tmp_path / "sets"]) == [first, second]
    assert set_folders([second]) == [second]
    with pytest.raises(FileNotFoundError):
        set_folders([tmp_path])


def test_real_data_is_split_on_the_path_separator():

    assert real_data_roots(None) == []
    assert [str(p) for p in real_data_roots(f"a{os.pathsep}b")] == ["a", "b"]


def test_without_sets_the_command_says_how_to_get_them_and_exits_zero(tmp_path):
    # GIVEN no REAL_DATA and no --data
    env = {k: v for k, v in os.environ.items() if k != "REAL_DATA"}
    # WHEN the benchmark is asked for
    result = subprocess.run(
        [sys.executable, "-m", "model", "bench-real", "--out", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        env=env,
    )
    # THEN it says where the sets come from and writes nothing
    assert result.returncode == 0, result.stderr
    for source in ("real-sets", "marellanoc/MaskON", "davisking/dlib", "All-Age-Faces-Dataset"):
        assert source in result.stdout
    assert not (tmp_path / "r.json").exists()


def test_a_malformed_truth_file_is_one_error_line(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "truth.json").write_text(json.dumps({"a.png": [{"box": [1, 2, 3]}]}))
    result = subprocess.run(
        [sys.executable, "-m", "model", "bench-real", "--data", str(folder)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and "box" in result.stderr
    assert "Traceback" not in result.stderr


def test_voc_annotations_become_xywh_boxes(tmp_path):
    xml = tmp_path / "a.xml"
    xml.write_text(
        "<annotation><filename>a.jpg</filename><object><name>x</name><bndbox>"
        "<xmin>79</xmin><ymin>105</ymin><xmax>109</xmax><ymax>142</ymax>"
        "</bndbox></object></annotation>"
    )
    name, faces = voc_boxes(xml)
    assert name == "a.jpg"
    assert faces == [TruthFace((79.0, 105.0, 30.0, 37.0))]


def test_the_halves_split_by_name_whatever_the_extension():
    names = [f"maksssksksss{i}" for i in range(200)]
    halves = [split_half(f"{n}.png") for n in names]
    assert halves == [split_half(f"{n}.jpg") for n in names]
    assert 70 < halves.count("tune") < 130


def test_the_landmark_box_spans_the_brows_and_reaches_below_the_mouth():
    # GIVEN landmarks with brows from x=60 to x=140 at y=100, eyes at y=120, mouth at y=160
    points = np.zeros((49, 2))
    points[0:10] = np.column_stack([np.linspace(60, 140, 10), np.full(10, 100)])
    points[10:19] = [100, 140]
    points[19:31] = np.column_stack([np.linspace(70, 130, 12), np.full(12, 120)])
    points[31:49] = [100, 160]
    # WHEN boxed
    x, y, w, h = face_box_from_landmarks(points)
    # THEN it is 1.25 brow spans wide around their middle, above the brows and below the mouth
    assert (x + w / 2, w) == pytest.approx((100, 100))
    assert y < 100 and y + h > 160
    with pytest.raises(ValueError):
        face_box_from_landmarks(points[:48])


def test_truth_files_round_trip(tmp_path):
    from model.real_sets import About, RealSet, write_set

    image = tmp_path / "src" / "p.png"
    image.parent.mkdir()
    Image.new("RGB", (40, 40)).save(image)
    faces = [TruthFace((1.0, 2.0, 30.0, 31.0), "female", 44.0)]
    about = About("here", "CC0", "any", exhaustive=True)
    folder = write_set(RealSet("s", about, {image: faces}), tmp_path / "out")
    assert read_truth(folder) == {"p.png": faces}
    assert (folder / "p.png").resolve() == image.resolve()
    assert json.loads((folder / "set.json").read_text())["exhaustive"] is True
