"""Where the face pipeline's networks run: one small interface, two implementations.

The face finder and the age/gender network each call a ``Runtime`` with a batch and read
named outputs back. On the CPU (the inference Lambda, the CLI) that is the LiteRT
interpreter on the exported ``.tflite``; on a GPU (the GPU worker) it is Keras 3 on the
trained ``.keras`` file, on whatever backend ``KERAS_BACKEND`` names. Everything around the
calls (scaling, decoding, alignment, calibration) is the same code for both, so the two
paths differ only in the runtime and the batch size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np


class Runtime(Protocol):
    """A network: a float32 batch in, its outputs by name out (NumPy, batch first)."""

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]: ...


class LiteRtRuntime:
    """An exported ``.tflite`` network with one input, through its only signature.

    The signature runner resizes the input to each call's shape (batch size, and for the
    fully convolutional finder, height and width), so one file serves every frame size.
    Not thread-safe: one per thread that calls it.
    """

    def __init__(self, path: Path, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        signatures = interpreter.get_signature_list()
        if len(signatures) != 1:
            raise ValueError(f"{path}: expected one signature, found {sorted(signatures)}")
        (key, signature), *_ = signatures.items()
        (self._input,) = signature["inputs"]
        self._runner = interpreter.get_signature_runner(key)

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        result: dict[str, np.ndarray] = self._runner(
            **{self._input: batch.astype(np.float32, copy=False)}
        )
        return result


class KerasRuntime:
    """A trained ``.keras`` network on Keras 3's configured backend (a GPU through PyTorch
    or JAX). Importing Keras is this class's business only; serving on LiteRT never does."""

    def __init__(self, network: Path | Any) -> None:
        """``network``: a ``.keras`` file, or a Keras model already built."""
        import keras

        self._network: Any = (
            keras.saving.load_model(network, compile=False)
            if isinstance(network, Path)
            else network
        )

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        import keras

        # A direct call, not predict_on_batch: TensorFlow's compiled predict function was seen
        # to crash (SIGSEGV) beside LiteRT interpreters in one process; the eager call does not.
        outputs = self._network(batch.astype(np.float32, copy=False), training=False)
        return {name: keras.ops.convert_to_numpy(value) for name, value in outputs.items()}
