"""Many frames in, their faces out: the serving ``model.predictor.Predictor`` itself.

The worker calls ``predict_batch`` on a batch of frames: the face finder's network sees
every frame of one input shape in one call, and the age/gender network every face of the
batch in one call. The runtime is the only difference from the Lambda: ``litert`` runs the
shipped ``.tflite`` files on the CPU, ``keras`` the Keras networks (YuNet with its shipped
weights, the trained ``age_gender.keras``) on whatever backend ``KERAS_BACKEND`` names, so
the same code runs on PyTorch with CUDA on a GPU machine and on TensorFlow's CPU kernels
here (the parity test holds the two together).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from model.predictor import DEFAULT_MODEL, Face, RuntimeName, load_predictor


class BatchPredictor(Protocol):
    """What the worker needs: faces for many frames per call (and one, as FacePredictor)."""

    model_version: str

    def predict_batch(
        self, frames: Sequence[np.ndarray], min_face_px: Sequence[float | None] | None = None
    ) -> list[list[Face]]: ...

    def predict(self, rgb: np.ndarray, min_face_px: float | None = None) -> list[Face]: ...


def load_batch_predictor(
    runtime: RuntimeName = "litert", num_threads: int = 1, model_path: Path = DEFAULT_MODEL
) -> BatchPredictor:
    """The worker's predictor: the serving one, both networks on ``runtime``."""
    return load_predictor(model_path, num_threads, runtime)
