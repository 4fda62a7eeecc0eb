"""Export the trained Keras network to a LiteRT (.tflite) model for serving."""

from __future__ import annotations

import json
from pathlib import Path

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
    import tempfile

    import keras
    import tensorflow as tf

    network = keras.saving.load_model(keras_path)
    serving = keras.Model(
        network.input, {"age": network.output["age"], "gender": network.output["gender"]}
    )
    # Through a SavedModel: the converter freezes its variables into constants,
    # which a conversion from a live function does not do.
    with tempfile.TemporaryDirectory() as saved_model:
        export = keras.export.ExportArchive()
        export.track(serving)
        export.add_endpoint(
            "serve",
            lambda face: serving(face, training=False),
            input_signature=[
                tf.TensorSpec([None, CROP_SIZE, CROP_SIZE, 3], tf.float32, name="face")
            ],
        )
        export.write_out(saved_model, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model, signature_keys=["serve"])
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        flatbuffer = converter.convert()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(flatbuffer)
    return out_path
