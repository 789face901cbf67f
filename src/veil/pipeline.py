"""The frame pipeline every door shares: detect -> merge -> redact."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from veil.detect import create_detector
from veil.detect.multiscale import MultiScaleDetector, ScalePlan
from veil.detections import Detections
from veil.models import ModelSpec
from veil.redact import Redactor, Region

DEFAULT_DETECTOR = "centerface-int8"


class AnonymizeResult(NamedTuple):
    image: np.ndarray
    regions: list[Region]
    detections: Detections


class Anonymizer:
    """Holds one model session and the redaction settings; reuse it for many images or frames."""

    def __init__(self, threshold: float | None = None, mode: str = "blur", shape: str = "ellipse",
                 mask_scale: float = 1.3, strength: float | None = None, detector: str = DEFAULT_DETECTOR,
                 plan: ScalePlan | None = None, providers: list[str] | None = None, threads: int | None = None):
        self.redactor = Redactor(mode=mode, shape=shape, mask_scale=mask_scale, strength=strength)
        base = create_detector(detector, providers=providers, threads=threads)
        threshold = base.default_threshold if threshold is None else threshold
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1 (got {threshold})")
        self.threshold = float(threshold)
        self.detector = MultiScaleDetector(base, plan)

    @property
    def model(self) -> ModelSpec:
        return self.detector.model

    @property
    def settings(self) -> dict:
        return {"detector": self.model.name, "threshold": self.threshold, **self.redactor.settings}

    def detect(self, rgb: np.ndarray, threshold: float | None = None, *, multiscale: bool = True) -> Detections:
        """Faces in an RGB frame (8- or 16-bit): at every scale the plan covers, or with ``multiscale=False``
        one pass at the frame's own resolution (what video uses between its full passes)."""
        threshold = self.threshold if threshold is None else threshold
        if not multiscale:
            return self.detector.detector.forward(to_rgb8(rgb), threshold)
        return self.detector.detect(to_rgb8(rgb), threshold)

    def anonymize(self, rgb: np.ndarray) -> AnonymizeResult:
        detections = self.detect(rgb)
        image, regions = self.redactor.apply(rgb, detections)
        return AnonymizeResult(image, regions, detections)


def to_rgb8(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB array, got shape {rgb.shape}")
    if rgb.dtype == np.uint8:
        return rgb
    if rgb.dtype == np.uint16:
        return (rgb >> 8).astype(np.uint8)
    raise ValueError(f"expected uint8 or uint16 pixels, got {rgb.dtype}")


def anonymize_image(image_or_path, **settings) -> tuple[np.ndarray, list[Region]]:
    """Anonymize one image given as a path, a PIL image or an RGB array; returns (pixels, regions).

    For a path the pixels come back upright (EXIF orientation applied) in the file's bit depth; use
    :func:`veil.media.image.save_image` or the ``veil`` command to write them with the metadata policy.
    """
    if isinstance(image_or_path, (str, Path)):
        from veil.media.image import load_image

        rgb = load_image(Path(image_or_path)).pixels
    elif isinstance(image_or_path, np.ndarray):
        rgb = image_or_path
    else:  # a PIL image
        rgb = np.asarray(image_or_path.convert("RGB"))
    result = Anonymizer(**settings).anonymize(rgb)
    return result.image, result.regions
