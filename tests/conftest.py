"""Shared test fixtures: paths to data that ships beside the project or inside dependencies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
UTKFACE = ROOT.parent / "shared" / "datasets" / "utkface"


@pytest.fixture(scope="session")
def utkface() -> Path:
    """The shared UTKFace folder (present in CI beside the clone)."""
    if not UTKFACE.is_dir():
        pytest.skip(f"shared dataset not found at {UTKFACE}")
    return UTKFACE


@pytest.fixture(scope="session")
def sample_photos() -> list[np.ndarray]:
    """Real face photographs shipped inside matplotlib and scikit-image, as RGB arrays."""
    from model.samples import sample_photos

    photos = sample_photos()
    assert len(photos) == 2, "matplotlib and scikit-image must both be installed"
    return [np.asarray(Image.open(p).convert("RGB")) for p in photos]
