"""Redaction modes: each replaces the pixels of a region with something that carries no identity.

Strengths default to the values the LFW re-identification benchmark (benchmarks/lfw_attack.py) found
to bring an off-the-shelf recognizer to chance; see docs/audit.md.
"""

from __future__ import annotations

import math
from typing import Protocol

import cv2
import numpy as np


class Mode(Protocol):
    name: str

    def render(self, image: np.ndarray, crop: tuple[int, int, int, int], face_width: float) -> np.ndarray:
        """Replacement pixels for ``image[crop]`` (same shape and dtype)."""


class Blur:
    """Gaussian blur with sigma proportional to the face width, computed with context around the crop."""

    name = "blur"
    default_strength = 0.25  # sigma as a fraction of the face width
    min_sigma = 2.0

    def __init__(self, strength: float | None = None):
        self.strength = self.default_strength if strength is None else strength

    def render(self, image, crop, face_width):
        sigma = max(self.min_sigma, self.strength * face_width)
        # 4 samples per sigma: the same pixels as the exact Gaussian to within a grey level or two.
        return gaussian_crop(image, crop, sigma, samples_per_sigma=4)


def gaussian_crop(image: np.ndarray, crop: tuple[int, int, int, int], sigma: float, samples_per_sigma: float) -> np.ndarray:
    """``image[crop]`` blurred with a Gaussian of ``sigma``, computed with 3 sigma of context around it.

    A wide Gaussian is computed on a copy of the context shrunk to ``samples_per_sigma`` pixels per
    sigma and scaled back: a Gaussian that wide leaves no detail finer than that, and the cost falls
    with the square of the shrink.
    """
    x1, y1, x2, y2 = crop
    height, width = image.shape[:2]
    pad = math.ceil(3 * sigma)
    ox1, oy1, ox2, oy2 = max(0, x1 - pad), max(0, y1 - pad), min(width, x2 + pad), min(height, y2 + pad)
    context = image[oy1:oy2, ox1:ox2]
    shrink = sigma / samples_per_sigma
    if shrink > 1.25:
        small = cv2.resize(context, (max(1, round(context.shape[1] / shrink)), max(1, round(context.shape[0] / shrink))),
                           interpolation=cv2.INTER_AREA)
        blurred = cv2.resize(gaussian(small, sigma / shrink), (context.shape[1], context.shape[0]),
                             interpolation=cv2.INTER_LINEAR)
    else:
        blurred = gaussian(context, sigma)
    return blurred[y1 - oy1 : y2 - oy1, x1 - ox1 : x2 - ox1]


def gaussian(image: np.ndarray, sigma: float) -> np.ndarray:
    """``image`` blurred with a Gaussian of ``sigma`` (kernel 3 sigma each side, edges replicated).

    Not ``cv2.GaussianBlur``: on 8-bit images its per-call setup (OpenCV builds a bit-exact fixed-point
    kernel) costs several times the filtering of a face-sized crop; a separable filter with the same
    Gaussian gives the same pixels to within 2 grey levels.
    """
    kernel = cv2.getGaussianKernel(round(sigma * 6 + 1) | 1, sigma)
    return cv2.sepFilter2D(image, -1, kernel, kernel, borderType=cv2.BORDER_REPLICATE)


class Pixelate:
    """Mosaic of square blocks; ``strength`` is the number of blocks across the face."""

    name = "pixelate"
    default_strength = 8.0
    min_block = 3  # px: below this a mosaic of a tiny face barely changes it

    def __init__(self, strength: float | None = None):
        self.strength = self.default_strength if strength is None else strength

    def render(self, image, crop, face_width):
        x1, y1, x2, y2 = crop
        block = max(self.min_block, face_width / self.strength)
        region = image[y1:y2, x1:x2]
        small = cv2.resize(region, (max(1, round((x2 - x1) / block)), max(1, round((y2 - y1) / block))),
                           interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)


class Solid:
    """A flat fill (black by default)."""

    name = "solid"
    default_strength = None

    def __init__(self, strength: float | None = None, color: tuple[int, int, int] = (0, 0, 0)):
        self.color = color

    def render(self, image, crop, face_width):
        x1, y1, x2, y2 = crop
        out = np.empty((y2 - y1, x2 - x1) + image.shape[2:], image.dtype)
        out[:] = np.asarray(self.color, dtype=image.dtype)[: image.shape[2]] if image.ndim == 3 else self.color[0]
        return out


MODES: dict[str, type] = {m.name: m for m in (Blur, Pixelate, Solid)}
