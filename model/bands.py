"""Age bands used for targeting, defined once for every part of the product."""

from __future__ import annotations

# (name, first age, last age); the last band is open-ended.
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("child", 0, 12),
    ("teen", 13, 19),
    ("young_adult", 20, 34),
    ("adult", 35, 54),
    ("senior", 55, None),
)
BAND_NAMES: tuple[str, ...] = tuple(name for name, _, _ in AGE_BANDS)
GENDERS: tuple[str, ...] = ("male", "female")  # index = UTKFace label


def age_band(age: float) -> str:
    """Return the band of an age in years; fractional ages round to the nearest year."""
    if age < 0:
        raise ValueError(f"age must be non-negative, got {age}")
    years = round(age)
    for name, _first, last in AGE_BANDS:  # contiguous from 0, so the first fit wins
        if last is None or years <= last:
            return name
    raise AssertionError("unreachable: the last band is open-ended")
