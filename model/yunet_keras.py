"""YuNet, libfacedetection's CNN face detector, rebuilt in Keras and loaded with its weights.

libfacedetection (Shiqi Yu, 3-clause BSD) ships the trained network as C code:
``src/facedetectcnn-model.cpp`` wires the layers, ``src/facedetectcnn-data.cpp``
holds every weight as a plain ``float`` array, and ``src/facedetectcnn.cpp``
implements the few operations. This module states the same network with
Keras layers so that it can be exported to LiteRT (XNNPACK on one core) and run
batched on a GPU; ``model/yunet.py`` decodes its outputs without TensorFlow.

The network, in the C code's terms:

* a 3x3 stride-2 convolution over the BGR bytes (the C code rewrites it as a
  1x1 convolution over 27 gathered values, padded to 32 channels);
* "DP" blocks: a 1x1 pointwise convolution without activation, then a 3x3
  depthwise convolution, then ReLU;
* a backbone of DP pairs and 2x2 max pools down to strides 8, 16 and 32;
* a small top-down neck (nearest upsampling and addition);
* four heads per stride, each one DP block without ReLU: class logit,
  objectness logit, box (dx, dy, log w, log h) and five keypoints (dx, dy).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers

DEFAULT_WEIGHTS = Path(__file__).parent / "artifacts" / "yunet.weights.h5"
# Strides of the three output levels, finest first.
STRIDES = (8, 16, 32)
# Channels of each output level, in this order: class logit, objectness logit,
# box offsets (4), keypoint offsets (5 x 2).
HEAD_CHANNELS = {"cls": 1, "obj": 1, "bbox": 4, "kps": 10}
OUTPUT_CHANNELS = sum(HEAD_CHANNELS.values())


class NearestUpsample2x(layers.Layer):
    """Nearest-neighbour 2x upsampling (the C code's ``upsampleX2``) as LiteRT-friendly ops.

    Keras' ``UpSampling2D`` lowers to shape, slice, tile and reshape ops that
    XNNPACK cannot take when H and W are unknown; four copies of the channels
    rearranged by ``depth_to_space`` give the same pixels in two ops that it
    can (bit-identical outputs, about 5 % faster on one core).
    """

    def call(self, x: Any) -> Any:
        if keras.backend.backend() != "tensorflow":
            # Other backends (PyTorch on the GPU worker) have no depth_to_space in keras.ops:
            # repeating rows and columns gives the same pixels.
            return keras.ops.repeat(keras.ops.repeat(x, 2, axis=1), 2, axis=2)
        import tensorflow as tf  # only the TensorFlow backend (training, export) gets here

        return tf.nn.depth_to_space(tf.concat([x, x, x, x], axis=-1), 2)


def _dp_block(
    x: keras.KerasTensor, filters: int, name: str, relu: bool = True
) -> keras.KerasTensor:
    """libfacedetection's ``convolutionDP``: 1x1 pointwise, 3x3 depthwise, optional ReLU."""
    x = layers.Conv2D(filters, 1, name=f"{name}_pw")(x)
    return layers.DepthwiseConv2D(
        3, padding="same", activation="relu" if relu else None, name=f"{name}_dw"
    )(x)


def _unit(x: keras.KerasTensor, filters: tuple[int, int], name: str) -> keras.KerasTensor:
    """``convolution4layerUnit``: two DP blocks, each followed by ReLU."""
    x = _dp_block(x, filters[0], f"{name}_dp1")
    return _dp_block(x, filters[1], f"{name}_dp2")


def _heads(x: keras.KerasTensor, level: int) -> keras.KerasTensor:
    """The four heads of one level, concatenated to (h, w, 16): cls, obj, bbox, kps."""
    outputs = [
        _dp_block(x, channels, f"bbox_head__multi_level_{head}__{level}", relu=False)
        for head, channels in HEAD_CHANNELS.items()
    ]
    return layers.Concatenate(name=f"stride_{STRIDES[level]}")(outputs)


def build_yunet() -> keras.Model:
    """YuNet as a Keras model: RGB 0..255 (N, H, W, 3) in, raw heads per stride out.

    H and W must be multiples of 32 (pad with zeros, as the C code does). The
    outputs are a dict ``stride_8``, ``stride_16``, ``stride_32`` of
    (N, H/s, W/s, 16) float32 tensors: logits of class and objectness, box
    offsets and keypoint offsets, undecoded (see ``model.yunet.decode``).

    The C network reads BGR bytes; ``load_weights_from_cpp`` reverses the colour
    axis of the first kernel instead of the image, so the model takes RGB and
    the flip costs nothing at run time.
    """
    image = keras.Input((None, None, 3), name="image")  # RGB, float32 0..255
    # The C code gathers the 3x3 neighbourhood of every second pixel with one
    # pixel of zeros above and to the left; Keras' "same" padding for stride 2
    # would pad below and to the right instead, so pad explicitly.
    x = layers.ZeroPadding2D(1, name="pad")(image)
    x = layers.Conv2D(16, 3, strides=2, activation="relu", name="backbone__model0_pw")(x)
    x = _dp_block(x, 16, "backbone__model0_dp")
    x = layers.MaxPooling2D(2, name="pool0")(x)  # stride 4
    x = _unit(x, (16, 32), "backbone__model1")
    x = _unit(x, (32, 64), "backbone__model2")
    x = layers.MaxPooling2D(2, name="pool2")(x)  # stride 8
    level8 = _unit(x, (64, 64), "backbone__model3")
    x = layers.MaxPooling2D(2, name="pool3")(level8)  # stride 16
    level16 = _unit(x, (64, 64), "backbone__model4")
    x = layers.MaxPooling2D(2, name="pool4")(level16)  # stride 32
    level32 = _unit(x, (64, 64), "backbone__model5")

    # Top-down neck: each coarser level, refined, is upsampled and added to the next finer.
    level32 = _dp_block(level32, 64, "neck__lateral_convs__2")
    level16 = layers.Add(name="add16")([NearestUpsample2x(name="up32")(level32), level16])
    level16 = _dp_block(level16, 64, "neck__lateral_convs__1")
    level8 = layers.Add(name="add8")([NearestUpsample2x(name="up16")(level16), level8])
    level8 = _dp_block(level8, 64, "neck__lateral_convs__0")

    outputs = {
        f"stride_{s}": _heads(f, i)
        for i, (s, f) in enumerate(zip(STRIDES, (level8, level16, level32), strict=True))
    }
    return keras.Model(image, outputs, name="yunet")


# One weight or bias array of the C data file: ``float NAME[dims] = {v, v, ...};``
_C_ARRAY = re.compile(r"float\s+(\w+)\s*\[[^\]]*\]\s*=\s*\{([^}]*)\}\s*;")
# One entry of ``param_pConvInfo``: {channels, filters, depthwise, pointwise, relu, weights, biases}
_C_CONV_INFO = re.compile(
    r"\{\s*(\d+)\s*,\s*(\d+)\s*,\s*(true|false)\s*,\s*(true|false)\s*,\s*(true|false)\s*,"
    r"\s*(\w+)_weight\s*,\s*(\w+)_bias\s*\}"
)


def read_cpp_arrays(data_cpp_path: Path) -> dict[str, np.ndarray]:
    """Every ``float`` array of ``facedetectcnn-data.cpp``, by name, flat."""
    text = Path(data_cpp_path).read_text()
    arrays = {
        name: np.array(
            [float(v.strip().rstrip("f")) for v in body.split(",") if v.strip()], np.float32
        )
        for name, body in _C_ARRAY.findall(text)
    }
    if not arrays:
        raise ValueError(f"{data_cpp_path}: no float arrays found; is this facedetectcnn-data.cpp?")
    return arrays


def load_weights_from_cpp(model: keras.Model, data_cpp_path: Path) -> keras.Model:
    """Set every layer of ``build_yunet()``'s model from libfacedetection's C arrays.

    Layout of the C arrays (see ``Filters::operator=`` in ``facedetectcnn.h``):
    a pointwise filter is ``[filters][channels]``, a depthwise filter
    ``[9][channels]`` (kernel position row-major, then channel), and the first
    layer's ``[16][32]`` reads channel ``(ky * 3 + kx) * 3 + bgr`` (27 used, 5 zero).
    Returns ``model`` for chaining.
    """
    arrays = read_cpp_arrays(data_cpp_path)
    text = Path(data_cpp_path).read_text()
    convs = _C_CONV_INFO.findall(text)
    if len(convs) != 53:
        raise ValueError(f"{data_cpp_path}: {len(convs)} convolutions listed, expected YuNet's 53")
    for channels, filters, depthwise, _pointwise, _relu, name, _ in convs:
        n_in, n_out = int(channels), int(filters)
        weight, bias = arrays[f"{name}_weight"], arrays[f"{name}_bias"]
        layer = model.get_layer(name)
        if name == "backbone__model0_pw":
            # [filter][ky][kx][bgr] -> Keras (ky, kx, channel, filter), colours reversed to RGB.
            kernel = weight.reshape(n_out, n_in)[:, :27].reshape(n_out, 3, 3, 3)
            kernel = kernel[..., ::-1].transpose(1, 2, 3, 0)
        elif depthwise == "true":
            kernel = weight.reshape(3, 3, n_in)[..., np.newaxis]  # (ky, kx, channel, 1)
        else:
            kernel = weight.reshape(n_out, n_in).T[np.newaxis, np.newaxis]  # (1, 1, in, out)
        layer.set_weights([np.ascontiguousarray(kernel), bias])
    return model


def weights_path(tflite_path: Path) -> Path:
    """Where the Keras weights of an exported YuNet lie: beside its .tflite."""
    return tflite_path.with_suffix(".weights.h5")


def load_yunet(path: Path = DEFAULT_WEIGHTS) -> keras.Model:
    """The Keras YuNet with the weights saved by ``export_yunet`` (no C sources needed)."""
    model = build_yunet()
    model.load_weights(path)
    return model


def export_yunet_tflite(model: keras.Model, out_path: Path, float16: bool = False) -> Path:
    """Convert YuNet to a LiteRT model with a resizable (N, H, W, 3) input named ``image``.

    ``float16`` stores the weights as float16 (half the file; XNNPACK computes in
    float32 either way).
    """
    from model.export import keras_to_tflite

    weights = "float16" if float16 else "float32"
    flatbuffer = keras_to_tflite(model, [None, None, None, 3], "image", weights=weights)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(flatbuffer)
    return out_path


# Where the weights come from; the card beside the .tflite repeats it.
SOURCE = {
    "repository": "https://github.com/ShiqiYu/libfacedetection",
    "commit": "acf7b25",
    "files": ["src/facedetectcnn-model.cpp", "src/facedetectcnn-data.cpp"],
    "licence": "BSD-3-Clause, Copyright (c) 2015-2021 Shiqi Yu (full text: licence_text)",
}


def export_yunet(source: Path, out_path: Path, float16: bool = False) -> Path:
    """Build YuNet, load libfacedetection's weights from ``source``, write the .tflite and its card.

    ``source`` is a libfacedetection checkout (its ``src/facedetectcnn-data.cpp``
    is read). Beside the .tflite go the Keras weights (``.weights.h5``, for
    ``load_yunet`` where the C sources are absent, e.g. the GPU worker) and the
    card (``.json``: source, licence, date; ``python -m bench.yunet_parity
    --card`` adds the parity figures).
    """
    import datetime
    import json

    data_cpp = Path(source) / "src" / "facedetectcnn-data.cpp"
    if not data_cpp.exists():
        raise FileNotFoundError(f"{data_cpp}: not a libfacedetection checkout")
    model = load_weights_from_cpp(build_yunet(), data_cpp)
    export_yunet_tflite(model, out_path, float16=float16)
    model.save_weights(weights_path(out_path))
    card_path = out_path.with_suffix(".json")
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    card.update(
        {
            "model": "YuNet (libfacedetection), ported to Keras by model/yunet_keras.py",
            "source": SOURCE,
            "exported": datetime.date.today().isoformat(),
            "weights": "float16" if float16 else "float32",
            "input": "RGB float32 0..255, (N, H, W, 3), H and W multiples of 32, zero padded",
            "outputs": "stride_8/16/32 (N, H/s, W/s, 16): cls, obj logits, box 4, keypoints 10",
        }
    )
    # The BSD licence asks that binary redistributions reproduce its notice and conditions.
    licence = Path(source) / "LICENSE"
    if licence.exists():
        card["licence_text"] = licence.read_text()
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return out_path
