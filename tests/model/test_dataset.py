from pathlib import Path

import pytest

from model.dataset import load_dataset, load_folder, parse_name


def _touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_bytes(b"")


def test_folder_loader_reads_labels_from_names_and_skips_malformed_ones(tmp_path):
    # GIVEN well-formed names, malformed names, and a file that is not an image
    _touch(
        tmp_path,
        "25_1_2_20170116174525125.jpg.chip.jpg",
        "3_0_4_20170116174525125.jpg",
        "39_1_20170116174525125.jpg.chip.jpg",  # race missing
        "x_1_0_20170116174525125.jpg",  # age not a number
        "130_0_0_20170116174525125.jpg",  # age out of range
        "30_2_0_20170116174525125.jpg",  # gender out of range
        "README.txt",
    )
    # WHEN the folder is loaded
    result = load_folder(tmp_path)
    # THEN the good ones load with their labels and each bad one is counted with a reason
    labels = sorted((i.age, i.gender, i.race) for i in result.images)
    assert labels == [(3, 0, 4), (25, 1, 2)]
    reasons = dict(result.skipped)
    assert len(reasons) == 4
    assert "fields" in reasons["39_1_20170116174525125.jpg.chip.jpg"]
    assert "not an integer" in reasons["x_1_0_20170116174525125.jpg"]
    assert "outside" in reasons["130_0_0_20170116174525125.jpg"]
    assert "gender" in reasons["30_2_0_20170116174525125.jpg"]


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        load_folder(tmp_path / "nope")


def test_csv_loader_accepts_a_header_and_skips_bad_rows(tmp_path):
    (tmp_path / "labels.csv").write_text(
        "path,age,gender\nfaces/a.jpg,31,1\nfaces/b.jpg,abc,0\nfaces/c.jpg,7\n\nfaces/d.jpg,60,0\n"
    )
    result = load_dataset(tmp_path / "labels.csv")
    assert [(i.path.name, i.age, i.gender, i.race) for i in result.images] == [
        ("a.jpg", 31, 1, -1),
        ("d.jpg", 60, 0, -1),
    ]
    assert [where for where, _ in result.skipped] == ["labels.csv:3", "labels.csv:4"]
    assert result.images[0].path == tmp_path / "faces" / "a.jpg"


def test_split_is_deterministic_and_about_fifteen_percent(tmp_path):
    names = [f"{i % 90}_{i % 2}_{i % 5}_2017011617452{i:04d}.jpg" for i in range(2000)]
    _touch(tmp_path, *names)
    first = {i.path.name: i.split for i in load_folder(tmp_path).images}
    second = {i.path.name: i.split for i in load_folder(tmp_path).images}
    assert first == second
    share = sum(s == "validation" for s in first.values()) / len(first)
    assert 0.12 < share < 0.18


def test_parse_name_rejects_out_of_range_race():
    with pytest.raises(ValueError, match="race"):
        parse_name("20_0_7_20170116174525125.jpg")


def test_all_age_faces_reads_only_its_train_list_with_labels_from_names(tmp_path):
    # GIVEN a local copy of All-Age-Faces with a train list and a val list
    from model.dataset import ALL_AGE_FACES_GROUP, all_age_faces_split

    lists = tmp_path / "image sets"
    lists.mkdir()
    (lists / "train.txt").write_text(
        "00012A34.jpg 0\n07381A61.jpg 1\n07400A20.jpg 0\nbadname.jpg 1\n"
    )
    (lists / "val.txt").write_text("00013A40.jpg 0\n")
    # WHEN it is loaded
    loaded = load_dataset(tmp_path)
    # THEN the train list's images load (ids up to 7380 are women), the val list is not read,
    # and lines whose gender column disagrees with the id or whose name is malformed are skipped
    labels = [(i.path.name, i.age, i.gender, i.race) for i in loaded.images]
    assert labels == [
        ("00012A34.jpg", 34, 1, ALL_AGE_FACES_GROUP),
        ("07381A61.jpg", 61, 0, ALL_AGE_FACES_GROUP),
    ]
    assert all(i.path.parent.name == "original images" for i in loaded.images)
    reasons = " ".join(why for _, why in loaded.skipped)
    assert len(loaded.skipped) == 2 and "gender" in reasons and "no 'A'" in reasons
    # and the held part the project reports on is the validation split of the same hash
    assert {all_age_faces_split(n) for n in ("00012A34.jpg", "07381A61.jpg")} <= {
        "held",
        "train",
        "calibration",
    }
