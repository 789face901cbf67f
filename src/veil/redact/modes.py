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

    def sigma(self, face_width):
        """The Gaussian's sigma for a face ``face_width`` pixels wide (a number or an array of them)."""
        return np.maximum(self.min_sigma, self.strength * np.asarray(face_width, np.float64))

    def render(self, image, crop, face_width):
        sigma = float(self.sigma(face_width))
        # 4 samples per sigma: the same pixels as the exact Gaussian to within a grey level or two.
        return gaussian_crop(image, crop, sigma, samples_per_sigma=4)


def gaussian_crop(image: np.ndarray, crop: tuple[int, int, int, int], sigma: float, samples_per_sigma: float) -> np.ndarray:
    """``image[crop]`` blurred with a Gaussian of ``sigma``, computed with 3 sigma of context around it.

    A wide Gaussian is computed on a copy of the context shrunk by a whole factor (at least
    ``samples_per_sigma`` pixels per sigma remain) and scaled back: a Gaussian that wide leaves no
    detail finer than that, and the cost falls with the square of the shrink. The factor is whole and
    the context trimmed to a multiple of it (on the side away from the crop, inside the 3 sigma) because
    OpenCV's area shrink is several times faster for whole factors; only the crop is scaled back.
    """
    x1, y1, x2, y2 = crop
    height, width = image.shape[:2]
    pad = math.ceil(3 * sigma)
    shrink = int(sigma // samples_per_sigma)
    if shrink < 2:
        ox1, oy1 = max(0, x1 - pad), max(0, y1 - pad)
        context = image[oy1 : min(height, y2 + pad), ox1 : min(width, x2 + pad)]
        return gaussian(context, sigma)[y1 - oy1 : y2 - oy1, x1 - ox1 : x2 - ox1]
    ox1, ox2 = _whole_span(max(0, x1 - pad), min(width, x2 + pad), x1, x2, shrink)
    oy1, oy2 = _whole_span(max(0, y1 - pad), min(height, y2 + pad), y1, y2, shrink)
    context = image[oy1:oy2, ox1:ox2]
    small = cv2.resize(context, (max(1, round((ox2 - ox1) / shrink)), max(1, round((oy2 - oy1) / shrink))),
                       interpolation=cv2.INTER_AREA)
    small = gaussian(small, sigma / shrink)
    if (ox2 - ox1) % shrink or (oy2 - oy1) % shrink:  # no whole factor fits (the crop spans the image)
        back = cv2.resize(small, (ox2 - ox1, oy2 - oy1), interpolation=cv2.INTER_LINEAR)
        return back[y1 - oy1 : y2 - oy1, x1 - ox1 : x2 - ox1]
    # Scale back only the small pixels the crop needs, plus one on each side for the interpolation: with a
    # whole factor this gives the same pixels as scaling back the whole context.
    sx1, sy1 = max(0, (x1 - ox1) // shrink - 1), max(0, (y1 - oy1) // shrink - 1)
    sx2 = min(small.shape[1], -(-(x2 - ox1) // shrink) + 1)
    sy2 = min(small.shape[0], -(-(y2 - oy1) // shrink) + 1)
    back = cv2.resize(small[sy1:sy2, sx1:sx2], ((sx2 - sx1) * shrink, (sy2 - sy1) * shrink), interpolation=cv2.INTER_LINEAR)
    top, left = y1 - oy1 - sy1 * shrink, x1 - ox1 - sx1 * shrink
    return back[top : top + y2 - y1, left : left + x2 - x1]


def _whole_span(start: int, stop: int, inner_start: int, inner_stop: int, factor: int) -> tuple[int, int]:
    """``start:stop`` shortened to a multiple of ``factor`` on a side where that keeps ``inner_start:inner_stop``
    inside it; unchanged if neither side can give up the pixels."""
    extra = (stop - start) % factor
    if stop - extra >= inner_stop:
        return start, stop - extra
    if start + extra <= inner_start:
        return start + extra, stop
    return start, stop


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
