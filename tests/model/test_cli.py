import json
import subprocess
import sys

from model.samples import sample_photos


def _model(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "model", *args], capture_output=True, text=True, cwd=cwd
    )


def test_predict_prints_one_json_line_per_image():
    photos = [str(p) for p in sample_photos()]
    result = _model("predict", *photos)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["image"] for line in lines] == photos
    assert all(len(line["faces"]) == 1 for line in lines)


def test_predict_on_unreadable_files_prints_one_error_line_each_and_fails(tmp_path):
    (tmp_path / "notes.jpg").write_text("not an image")
    result = _model("predict", str(tmp_path / "notes.jpg"), str(tmp_path / "missing.png"))
    assert result.returncode == 1
    assert result.stdout == ""
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2
    assert errors[0].startswith("error:") and "not a JPEG/PNG" in errors[0]
    assert errors[1].startswith("error:") and "cannot read file" in errors[1]
    assert "Traceback" not in result.stderr


def test_predict_still_reports_the_good_images_when_one_is_bad(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    result = _model("predict", str(tmp_path / "empty.jpg"), str(sample_photos()[0]))
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 1
    assert "empty file" in result.stderr


def test_evaluate_writes_the_documented_keys(tmp_path, utkface):
    folder = tmp_path / "faces"
    folder.mkdir()
    for source in sorted(utkface.iterdir())[::2000][:8]:
        (folder / source.name).symlink_to(source)
    (folder / "12_1_20170116174525125.jpg").symlink_to(source)  # malformed name
    result = _model("evaluate", "--data", str(folder), "--json", str(tmp_path / "out.json"))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["n_images"] == 8
    assert report["skipped_names"] == 1
    for key in (
        "n_faces_found",
        "gender_accuracy",
        "age_mae",
        "age_band_accuracy",
        "per_race",
        "per_age_band",
        "ms_per_face_median",
        "model_version",
    ):
        assert key in report
    for group in report["per_race"].values():
        assert set(group) == {"n", "gender_accuracy", "age_mae"}


def test_train_on_a_missing_folder_is_one_clear_line(tmp_path):
    result = _model("train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: no such folder: {tmp_path / 'nope'}"


def test_train_options_reach_the_training_config(tmp_path, monkeypatch):
    import model.train
    from model.cli import build_parser

    seen = {}
    monkeypatch.setattr(
        model.train, "train", lambda data, out, config, cache: seen.update(c=config)
    )
    given = ["--seed", "2", "--width", "40", "--epochs", "3"]
    args = build_parser().parse_args(["train", "--data", str(tmp_path), "--out", "run", *given])
    assert args.run(args) == 0
    config = seen["c"]
    assert (config.seed, config.width, config.epochs) == (2, 40, 3)
    assert config.batch_size == model.train.TrainingConfig().batch_size  # not given: the default
