"""Geometry of redaction: from a detected face box to the area that is actually redacted."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SHAPES = ("ellipse", "box")
MIN_MARGIN_PX = 2.0  # boxes of tiny faces are imprecise by a pixel or two; always pad a little


@dataclass(frozen=True)
class Region:
    """One redacted area: ``box`` is the bounding box of what was redacted, in output pixels."""

    box: tuple[int, int, int, int]
    score: float
    shape: str
    source: str = "detector"

    def to_dict(self) -> dict:
        return {"box": list(self.box), "score": round(float(self.score), 4), "shape": self.shape, "source": self.source}


def grow(face: np.ndarray, mask_scale: float) -> tuple[float, float, float, float]:
    """A face box grown about its centre by ``mask_scale``, and by at least ``MIN_MARGIN_PX`` a side."""
    x1, y1, x2, y2 = (float(v) for v in face)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_w = max((x2 - x1) * mask_scale, x2 - x1 + 2 * MIN_MARGIN_PX) / 2
    half_h = max((y2 - y1) * mask_scale, y2 - y1 + 2 * MIN_MARGIN_PX) / 2
    return (cx - half_w, cy - half_h, cx + half_w, cy + half_h)


def pixel_bounds(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int] | None:
    """The pixels a float box touches (rounded outwards), clipped to the image; None if none."""
    x1, y1, x2, y2 = box
    bounds = (max(0, math.floor(x1)), max(0, math.floor(y1)), min(width, math.ceil(x2)), min(height, math.ceil(y2)))
    return bounds if bounds[2] > bounds[0] and bounds[3] > bounds[1] else None


def shape_mask(shape: str, unclipped: tuple[float, float, float, float], crop: tuple[int, int, int, int]) -> np.ndarray:
    """Boolean mask of ``shape`` inscribed in the ``unclipped`` box, over the pixels of ``crop``.

    The mask is hard-edged on purpose: a feathered edge blends original pixels back in and leaves
    detail readable. The ellipse is computed exactly rather than with cv2.ellipse, whose polygon
    approximation cuts inside the true curve and would leave face pixels at the edge; it is grown by
    half a pixel so that every pixel the true ellipse touches is covered.
    """
    cx1, cy1, cx2, cy2 = crop
    if shape == "box":
        return np.ones((cy2 - cy1, cx2 - cx1), bool)
    x1, y1, x2, y2 = unclipped
    rx, ry = (x2 - x1) / 2 + 0.5, (y2 - y1) / 2 + 0.5
    # The full-size sum is in float32 (a crowd frame of a video has one mask per face): its rounding (~1e-7)
    # is far inside the half-pixel growth, so no pixel of the true ellipse can fall out.
    xs = ((np.arange(cx1, cx2) + 0.5 - (x1 + x2) / 2) / rx).astype(np.float32)
    ys = ((np.arange(cy1, cy2) + 0.5 - (y1 + y2) / 2) / ry).astype(np.float32)
    return ys[:, None] ** 2 + xs[None, :] ** 2 <= 1.0
