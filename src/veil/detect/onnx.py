"""Shared onnxruntime session setup for the ONNX detectors."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import onnxruntime as ort

from veil.models import ModelSpec

if TYPE_CHECKING:
    import onnx


def default_threads() -> int:
    return int(os.environ.get("VEIL_THREADS", 0)) or (os.cpu_count() or 1)


def prepared_model(spec: ModelSpec, *, dynamic_input: str | None = None) -> onnx.ModelProto:
    """The verified model file, ready for onnxruntime.

    ``dynamic_input`` names an input whose batch and spatial sizes are fixed in the file but which the
    model can run at any size (CenterFace is fully convolutional); those dims become symbolic.
    Initializers listed as graph inputs (old exporters) are removed so onnxruntime can fold them.
    """
    import onnx  # here, not at module level: its import (ml_dtypes) is slow and int8 models need none of it

    model = onnx.load_from_string(spec.read_bytes())
    initializers = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    if dynamic_input is not None:
        for value in model.graph.input:
            if value.name == dynamic_input:
                _make_dims_symbolic(value, value.name)
        for value in model.graph.output:
            _make_dims_symbolic(value, value.name)
    return model


def make_session(spec: ModelSpec, *, providers: list[str] | None = None, threads: int | None = None,
                 dynamic_input: str | None = None) -> ort.InferenceSession:
    """An inference session on the verified model file (see :func:`prepared_model`). A quantized model
    is built from the prepared float model (:mod:`veil.models.quantize`), so its verified bytes go to
    onnxruntime as they are."""
    if spec.quantized_from:
        data = spec.read_bytes()
    else:
        data = prepared_model(spec, dynamic_input=dynamic_input).SerializeToString()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads or default_threads()
    available = ort.get_available_providers()
    chosen = providers or [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    return ort.InferenceSession(data, options, providers=chosen)


def _make_dims_symbolic(value: onnx.ValueInfoProto, prefix: str) -> None:
    dims = value.type.tensor_type.shape.dim
    for index in (0, 2, 3):  # batch, height, width of an NCHW tensor
        dims[index].dim_param = f"{prefix}_{index}"
