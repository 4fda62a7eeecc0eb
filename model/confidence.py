"""Honest gender confidence: a temperature per face size, fitted on held-out faces.

A network trained on mixed sharp and degraded faces is not equally calibrated at
every face size. The probability of female is rescaled on the logit scale,
``sigmoid(logit(p) / T)``, with ``T`` chosen for the face's width by minimising
the log loss on the calibration split (never the reported validation split).
Numpy only: this runs on the serving path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Face-width buckets (detector box width in frame pixels) shared by the scene benchmark,
# the model card and the temperatures: [low, high).
FACE_PX_BUCKETS: tuple[tuple[float, float], ...] = (
    (0, 24),
    (24, 32),
    (32, 48),
    (48, 80),
    (80, 160),
    (160, float("inf")),
)


def bucket_name(low: float, high: float) -> str:
    return (
        f"<{high:g}" if low == 0 else (f">{low:g}" if high == float("inf") else f"{low:g}-{high:g}")
    )


def face_px_bucket(face_px: float) -> str:
    """The name of the bucket a face width falls in, e.g. ``32-48``."""
    for low, high in FACE_PX_BUCKETS:
        if low <= face_px < high:
            return bucket_name(low, high)
    return bucket_name(*FACE_PX_BUCKETS[-1])


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def apply_temperature(p_female: np.ndarray, temperature: float | np.ndarray) -> np.ndarray:
    """P(female) with its logit divided by ``temperature`` (1 leaves it unchanged)."""
    return 1.0 / (1.0 + np.exp(-_logit(np.asarray(p_female, np.float64)) / temperature))


def fit_temperature(p_female: np.ndarray, female: np.ndarray) -> float:
    """The temperature in [0.25, 8] that minimises the log loss of these predictions."""
    logits = _logit(np.asarray(p_female, np.float64))
    labels = np.asarray(female, np.float64)
    best, best_loss = 1.0, np.inf
    for temperature in np.exp(np.linspace(np.log(0.25), np.log(8.0), 241)):
        z = logits / temperature
        # log(1 + e^z) - y z, stably
        loss = float(np.mean(np.logaddexp(0, z) - labels * z))
        if loss < best_loss:
            best, best_loss = float(temperature), loss
    return round(best, 3)


def temperature_table(
    p_female: np.ndarray, female: np.ndarray, face_px: np.ndarray, min_faces: int = 200
) -> list[list[float]]:
    """``[[upper face width, temperature], ...]`` per bucket; thin buckets borrow a neighbour's."""
    table: list[list[float]] = []
    for low, high in FACE_PX_BUCKETS:
        inside = (face_px >= low) & (face_px < high)
        upper = min(high, 1e9)  # JSON has no infinity
        if inside.sum() >= min_faces:
            table.append([upper, fit_temperature(p_female[inside], female[inside])])
        elif table:
            table.append([upper, table[-1][1]])
        else:
            table.append([upper, float("nan")])
    # A leading run of thin buckets takes the first fitted temperature.
    fitted = [t for _, t in table if not np.isnan(t)]
    first = fitted[0] if fitted else 1.0
    return [[high, first if np.isnan(t) else t] for high, t in table]


def temperature_for(face_px: float, table: Sequence[Sequence[float]]) -> float:
    """The temperature for a face this wide, from ``temperature_table``'s table (1 if empty)."""
    for high, temperature in table:
        if face_px < high:
            return float(temperature)
    return float(table[-1][1]) if table else 1.0
