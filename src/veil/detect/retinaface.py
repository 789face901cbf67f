"""RetinaFace MobileNet-0.25 (ONNX): anchor-based, strides 8/16/32, two anchor sizes per stride."""

from __future__ import annotations

from functools import cache

import numpy as np

from veil.detect.base import register_detector
from veil.detect.centerface import nms
from veil.detect.onnx import make_session
from veil.detections import Detections
from veil.models import ModelSpec

ANCHORS = ((8, (16, 32)), (16, (64, 128)), (32, (256, 512)))  # (stride, anchor sizes in px)
CENTRE_VARIANCE, SIZE_VARIANCE = 0.1, 0.2
NMS_IOU = 0.4


@register_detector("retinaface")
class RetinaFace:
    default_threshold = 0.5

    def __init__(self, model: ModelSpec, *, providers: list[str] | None = None, threads: int | None = None):
        self.model = model
        self.session = make_session(model, providers=providers, threads=threads)
        self._input = self.session.get_inputs()[0].name
        self._mean = np.asarray(model.input.mean, np.float32).reshape(3, 1, 1)

    def forward(self, rgb: np.ndarray, threshold: float) -> Detections:
        height, width = rgb.shape[:2]
        multiple = self.model.input.size_multiple
        padded_h, padded_w = -(-height // multiple) * multiple, -(-width // multiple) * multiple
        blob = np.zeros((1, 3, padded_h, padded_w), np.float32)
        blob[0, :, :height, :width] = rgb[..., ::-1].transpose(2, 0, 1)  # RGB -> BGR, HWC -> CHW
        blob[0, :, :height, :width] -= self._mean
        loc, conf, _landmarks = self.session.run(None, {self._input: blob})
        return decode(loc[0], conf[0, :, 1], anchors(padded_w, padded_h), threshold).clipped(width, height)


@cache
def anchors(width: int, height: int) -> np.ndarray:
    """(N, 4) anchors ``cx, cy, w, h`` in pixels, in the order the model emits them."""
    out = []
    for stride, sizes in ANCHORS:
        ny, nx = -(-height // stride), -(-width // stride)
        ys, xs = np.mgrid[0:ny, 0:nx]
        centres = np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], axis=1)
        for_cell = np.repeat(centres, len(sizes), axis=0)
        size = np.tile(np.asarray(sizes, np.float32), len(centres))[:, None].repeat(2, axis=1)
        out.append(np.hstack([for_cell, size]))
    return np.vstack(out).astype(np.float32)


def decode(loc: np.ndarray, scores: np.ndarray, priors: np.ndarray, threshold: float) -> Detections:
    keep = np.flatnonzero(scores > threshold)
    if len(keep) == 0:
        return Detections()
    loc, priors, scores = loc[keep], priors[keep], scores[keep]
    centres = priors[:, :2] + loc[:, :2] * CENTRE_VARIANCE * priors[:, 2:]
    sizes = priors[:, 2:] * np.exp(loc[:, 2:] * SIZE_VARIANCE)
    boxes = np.hstack([centres - sizes / 2, centres + sizes / 2])
    kept = nms(boxes, scores, NMS_IOU)
    return Detections(boxes[kept], scores[kept])
