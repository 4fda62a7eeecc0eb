"""The age/gender network: a compact multi-task CNN over 64x64 aligned face crops.

Backend-agnostic Keras 3: only ``keras.layers`` and ``keras.ops``, so the same
code trains on the CPU with TensorFlow and on a GPU with JAX.

Age is predicted DEX-style (Rothe et al.): a softmax over ages 0..100 whose
expected value is the prediction. Training sees both the distribution (against
a Gaussian around the true age) and the expected value (L1), which keeps the
distribution well shaped while optimising the error we report.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from model.align import CROP_SIZE

AGE_CLASSES = 101  # ages 0..100; older faces are trained as 100


def _conv(x: keras.KerasTensor, filters: int, strides: int = 1) -> keras.KerasTensor:
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def build_model(width: int = 32, dropout: float = 0.3) -> keras.Model:
    """The serving network: uint8-range RGB crops in, named ``age`` and ``gender`` heads out.

    Outputs: ``age`` (years, expected value), ``age_distribution`` (101-way
    softmax, used by the training loss) and ``gender`` (probability of female).
    """
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
    age_distribution = layers.Dense(AGE_CLASSES, activation="softmax", name="age_distribution")(
        age_hidden
    )
    # The expected value as a frozen dot product with 0..100: exports to LiteRT as one matmul.
    age = layers.Dense(
        1,
        use_bias=False,
        trainable=False,
        kernel_initializer=keras.initializers.Constant(np.arange(AGE_CLASSES)[:, None]),
        name="age",
    )(age_distribution)

    gender_hidden = layers.Dense(64, activation="relu", name="gender_hidden")(x)
    gender = layers.Dense(1, activation="sigmoid", name="gender")(gender_hidden)
    return keras.Model(
        inputs,
        {"age": age, "age_distribution": age_distribution, "gender": gender},
        name="age_gender",
    )


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
