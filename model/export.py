"""Export the trained Keras network to a LiteRT (.tflite) model for serving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from model.align import CROP_SCALE, CROP_SIZE


def write_serving_card(
    tflite_path: Path,
    model_version: str,
    test_time_flip: bool,
    gender_temperatures: list[list[float]] | None = None,
) -> Path:
    """The JSON beside the model that the predictor reads: version and serving options.

    ``gender_temperatures`` (``model.confidence.temperature_table``) come from the
    training run's ``training.json``; without them the confidence is served as is.
    """
    card = tflite_path.with_suffix(".json")
    card.write_text(
        json.dumps(
            {
                "model_version": model_version,
                "crop_size": CROP_SIZE,
                "crop_scale": CROP_SCALE,
                "test_time_flip": test_time_flip,
                "gender_temperatures": gender_temperatures or [],
            },
            indent=2,
        )
        + "\n"
    )
    return card


def export_tflite(keras_path: Path, out_path: Path, quantize: bool = False) -> Path:
    """Convert ``keras_path`` to a LiteRT model with two outputs, ``age`` and ``gender``.

    ``quantize`` stores weights as int8 (dynamic-range quantisation): a quarter
    of the size, at some cost in parity; the shipped model's choice is in the
    model card.
    """
    import keras

    network = keras.saving.load_model(keras_path)
    serving = keras.Model(
        network.input, {"age": network.output["age"], "gender": network.output["gender"]}
    )
    flatbuffer = keras_to_tflite(
        serving, [None, CROP_SIZE, CROP_SIZE, 3], "face", weights="int8" if quantize else "float32"
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(flatbuffer)
    return out_path


def keras_to_tflite(
    model: Any, input_shape: list[int | None], input_name: str, weights: str = "float32"
) -> bytes:
    """A Keras model as a LiteRT flatbuffer with one input of ``input_shape`` (None: resizable).

    ``weights``: ``float32``, ``float16``, or ``int8`` (dynamic-range quantisation).
    """
    import tempfile

    import keras
    import tensorflow as tf

    # Through a SavedModel: the converter freezes its variables into constants,
    # which a conversion from a live function does not do.
    with tempfile.TemporaryDirectory() as saved_model:
        export = keras.export.ExportArchive()
        export.track(model)
        export.add_endpoint(
            "serve",
            lambda tensor: model(tensor, training=False),
            input_signature=[tf.TensorSpec(input_shape, tf.float32, name=input_name)],
        )
        export.write_out(saved_model, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model, signature_keys=["serve"])
        if weights != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if weights == "float16":
            converter.target_spec.supported_types = [tf.float16]
        flatbuffer: bytes = converter.convert()
    return flatbuffer
