"""The evaluation report's arithmetic, on outcomes whose right answers are known."""

from pathlib import Path

from model.dataset import LabelledImage
from model.evaluate import Outcome, Prediction, summarise


def _outcome(race: int, age: int, correct: bool, found: bool = True) -> Outcome:
    image = LabelledImage(Path(f"{age}_0_{race}_x.jpg"), age=age, gender=0, race=race)
    if not found:
        return Outcome(image)
    return Outcome(
        image, Prediction(age=float(age + 2), p_female=0.2 if correct else 0.8, model_ms=1.0)
    )


def test_gender_gap_is_reported_overall_and_without_children():
    # GIVEN group 0 right on every face, and group 2 wrong on its children only
    outcomes = [_outcome(0, 30, True) for _ in range(60)]
    outcomes += [_outcome(2, 4, False) for _ in range(20)]
    outcomes += [_outcome(2, 40, True) for _ in range(60)]
    outcomes += [_outcome(2, 40, True, found=False)]
    # WHEN summarised
    report = summarise(outcomes, "test")
    # THEN the overall gap counts the children and the 13+ gap does not
    assert report["n_images"] == 141 and report["n_faces_found"] == 140
    assert report["per_race"]["2"] == {"n": 80, "gender_accuracy": 0.75, "age_mae": 2.0}
    assert report["gender_accuracy_gap_between_races"] == 0.25
    assert report["per_race_age_13_plus"]["2"]["n"] == 60
    assert report["gender_accuracy_gap_between_races_age_13_plus"] == 0.0


def test_groups_too_small_to_judge_stay_out_of_the_gap():
    outcomes = [_outcome(0, 30, True) for _ in range(60)] + [
        _outcome(4, 30, False) for _ in range(10)
    ]
    report = summarise(outcomes, "test")
    assert report["per_race"]["4"]["gender_accuracy"] == 0.0
    assert report["gender_accuracy_gap_between_races"] == 0.0
