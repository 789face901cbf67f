"""Apply a redaction mode, through a hard-edged shape, to every detected face."""

from __future__ import annotations

import numpy as np

from veil.detections import Detections
from veil.redact.modes import MODES
from veil.redact.regions import SHAPES, Region, grow, pixel_bounds, shape_mask


class Redactor:
    def __init__(self, mode: str = "blur", shape: str = "ellipse", mask_scale: float = 1.3,
                 strength: float | None = None):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
        if shape not in SHAPES:
            raise ValueError(f"unknown shape {shape!r}; choose from {', '.join(SHAPES)}")
        if mask_scale < 1.0:
            raise ValueError(f"mask scale must be >= 1.0 (got {mask_scale}): a smaller mask would leave face pixels")
        self.mode = MODES[mode](strength)
        self.shape = shape
        self.mask_scale = mask_scale

    @property
    def settings(self) -> dict:
        return {"mode": self.mode.name, "shape": self.shape, "mask_scale": self.mask_scale,
                "strength": getattr(self.mode, "strength", None)}

    def apply(self, image: np.ndarray, detections: Detections) -> tuple[np.ndarray, list[Region]]:
        """A redacted copy of ``image`` (HxWxC, any dtype OpenCV handles) and the regions redacted."""
        out = image.copy()
        height, width = image.shape[:2]
        regions = []
        for face, score, source in zip(detections.boxes, detections.scores, detections.sources):
            grown = grow(face, self.mask_scale)
            crop = pixel_bounds(grown, width, height)
            if crop is None:
                continue
            mask = shape_mask(self.shape, grown, crop)
            if not mask.any():  # only a corner of the grown box, outside the face ellipse, is in the image
                continue
            x1, y1, x2, y2 = crop
            replacement = self.mode.render(out, crop, float(face[2] - face[0]))
            out[y1:y2, x1:x2][mask] = replacement[mask]
            regions.append(Region(_mask_bounds(mask, crop), float(score), self.shape, str(source)))
        return out, regions


def _mask_bounds(mask: np.ndarray, crop: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    return (crop[0] + int(xs[0]), crop[1] + int(ys[0]), crop[0] + int(xs[-1]) + 1, crop[1] + int(ys[-1]) + 1)
