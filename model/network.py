"""The age/gender network: a compact multi-task CNN over 64x64 aligned face crops.

Backend-agnostic Keras 3: only ``keras.layers`` and ``keras.ops``, so the same
code trains on the CPU with TensorFlow and on a GPU with JAX.

Age is predicted DEX-style (Rothe et al.) by default: a softmax over ages
0..100 whose expected value is the prediction. Training sees both the
distribution (against a Gaussian around the true age) and the expected value
(L1), which keeps the distribution well shaped while optimising the error we
report. Two other formulations exist for the measured comparison in
``model/compare_age_heads.py``: plain regression (L1 on one linear output) and
ordinal (CORAL-style: 100 binary "older than k" outputs sharing one score, the
prediction being the sum of their probabilities).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from model.align import CROP_SIZE

AGE_CLASSES = 101  # ages 0..100; older faces are trained as 100
AGE_HEADS = ("dex", "regression", "ordinal")
AGE_CENTRE, AGE_SPREAD = 35.0, 20.0  # rough centre and spread of adult ages, in years


def _conv(x: keras.KerasTensor, filters: int, strides: int = 1) -> keras.KerasTensor:
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def build_model(width: int = 32, dropout: float = 0.3, age_head: str = "dex") -> keras.Model:
    """The serving network: uint8-range RGB crops in, named ``age`` and ``gender`` heads out.

    Outputs: ``age`` (years), ``gender`` (probability of female) and, for the
    training loss only, ``age_distribution`` (dex: 101-way softmax) or
    ``age_ordinal`` (ordinal: P(age > k) for k = 0..99).
    """
    if age_head not in AGE_HEADS:
        raise ValueError(f"age_head must be one of {AGE_HEADS}, not {age_head!r}")
    inputs = keras.Input((CROP_SIZE, CROP_SIZE, 3), name="face")
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    # Stride-2 stem: 64x64 detail is mostly noise for age and gender, and it
    # quarters the cost of everything after it.
    x = _conv(x, width, strides=2)  # 32x32
    x = _conv(x, width)
    x = layers.MaxPooling2D()(x)  # 16x16
    x = _conv(x, width * 2)
    x = _conv(x, width * 2)
    x = layers.MaxPooling2D()(x)  # 8x8
    x = _conv(x, width * 4)
    x = _conv(x, width * 4)
    x = layers.MaxPooling2D()(x)  # 4x4
    x = _conv(x, width * 8)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)

    age_hidden = layers.Dense(128, activation="relu", name="age_hidden")(x)
    outputs = _age_outputs(age_head, age_hidden)

    gender_hidden = layers.Dense(64, activation="relu", name="gender_hidden")(x)
    outputs["gender"] = layers.Dense(1, activation="sigmoid", name="gender")(gender_hidden)
    return keras.Model(inputs, outputs, name="age_gender")


def _age_outputs(age_head: str, hidden: keras.KerasTensor) -> dict[str, keras.KerasTensor]:
    if age_head == "regression":
        # A unit-scale output stretched to years: Adam's small steps barely move a raw bias.
        z = layers.Dense(1, name="age_unit")(hidden)
        return {"age": layers.Rescaling(AGE_SPREAD, offset=AGE_CENTRE, name="age")(z)}
    if age_head == "ordinal":
        # One score, AGE_CLASSES - 1 thresholds: rank-consistent by construction. The thresholds
        # start descending, so the untrained prediction is AGE_CENTRE rather than 50 everywhere.
        score = layers.Dense(1, use_bias=False, name="age_score")(hidden)
        ordinal = layers.Dense(
            AGE_CLASSES - 1,
            activation="sigmoid",
            kernel_initializer="ones",
            bias_initializer=keras.initializers.Constant(
                (AGE_CENTRE - np.arange(AGE_CLASSES - 1)) / AGE_SPREAD
            ),
            name="age_ordinal",
        )
        ordinal_out = ordinal(score)
        ordinal.kernel.trainable = False  # only the thresholds (biases) learn
        # The expected age is the sum of P(age > k): a frozen dot product with ones.
        age = layers.Dense(
            1, use_bias=False, trainable=False, kernel_initializer="ones", name="age"
        )(ordinal_out)
        return {"age": age, "age_ordinal": ordinal_out}
    distribution = layers.Dense(AGE_CLASSES, activation="softmax", name="age_distribution")(hidden)
    # The expected value as a frozen dot product with 0..100: exports to LiteRT as one matmul.
    age = layers.Dense(
        1,
        use_bias=False,
        trainable=False,
        kernel_initializer=keras.initializers.Constant(np.arange(AGE_CLASSES)[:, None]),
        name="age",
    )(distribution)
    return {"age": age, "age_distribution": distribution}


def build_augmentation() -> keras.Sequential:
    """Training-only augmentation: pose, framing and lighting jitter a camera would produce."""
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal"),
            layers.RandomRotation(0.03, fill_mode="reflect"),  # about +-11 degrees
            layers.RandomTranslation(0.06, 0.06, fill_mode="reflect"),
            layers.RandomZoom((-0.1, 0.1), fill_mode="reflect"),
            layers.RandomBrightness(0.2, value_range=(0, 255)),
            layers.RandomContrast(0.2),
        ],
        name="augmentation",
    )


def build_training_model(network: keras.Model) -> keras.Model:
    """The network behind augmentation; the augmentation is inactive outside ``fit``."""
    inputs = keras.Input((CROP_SIZE, CROP_SIZE, 3), name="face")
    return keras.Model(inputs, network(build_augmentation()(inputs)), name="age_gender_training")
