import pytest

from model.bands import BAND_NAMES, age_band


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (0, "child"),
        (12, "child"),
        (12.4, "child"),
        (12.6, "teen"),
        (19, "teen"),
        (20, "young_adult"),
        (34, "young_adult"),
        (35, "adult"),
        (54, "adult"),
        (55, "senior"),
        (116, "senior"),
    ],
)
def test_band_boundaries_follow_the_definition(age, band):
    assert age_band(age) == band


def test_bands_are_ordered_youngest_first():
    assert BAND_NAMES == ("child", "teen", "young_adult", "adult", "senior")


def test_negative_age_is_an_error():
    with pytest.raises(ValueError, match="non-negative"):
        age_band(-1)
