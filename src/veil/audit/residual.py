"""Residual-face scan: an independent detector looks for faces that the redaction left visible.

The scanner is RetinaFace MobileNet-0.25 (``veil.detect.retinaface``), a different architecture and
training run from the CenterFace model that veil redacts with by default, so a face that CenterFace
misses is not missed for the same reason here. It runs through veil's multi-scale plan (native, zoomed
tiles for small faces, downscaled global pass), and each candidate is confirmed at a canonical scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from veil.detect import Detector, create_detector
from veil.detect.multiscale import MultiScaleDetector
from veil.detections import Detections

MODEL_NAME = "retinaface"
# Chosen on veil's own output of the WIDER subset (benchmarks/audit_residual.py): with the confirmation
# below it flags no real face >= 32 px there and 2 blur blobs, and fails every un-redacted image that 0.5
# fails. 0.5 finds ~3% more faces >= 32 px but raises ~20 false alarms on the 198 images.
DEFAULT_THRESHOLD = 0.8
# A candidate must score at least this when re-detected at ~112 px face height: a torso seen as a face in
# the downscaled pass, or a blur blob among redacted neighbours, does not; every real face >= 32 px
# sampled from WIDER did.
CONFIRM_THRESHOLD = 0.3
_RESCORE_FACE = 112.0  # px: face height at which a candidate is re-detected
_RESCORE_FLOOR = 0.05
# A detection counts as redacted when at least this share of its core lies inside the redacted areas.
DEFAULT_COVERAGE = 0.6


def rescore(detector: Detector, rgb: np.ndarray, box: np.ndarray) -> float:
    """The score of the face at ``box`` when re-detected in a crop around it at ~112 px face height.

    A face is a face at any scale; a pattern that only looks like one at the odd scale or tile it was
    found in (a torso in the downscaled pass, a blur blob among redacted neighbours) scores low here.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    height, width = rgb.shape[:2]
    cx1, cy1 = max(0, int(x1 - 0.5 * w)), max(0, int(y1 - 0.5 * h))
    cx2, cy2 = min(width, int(x2 + 0.5 * w) + 1), min(height, int(y2 + 0.5 * h) + 1)
    scale = _RESCORE_FACE / max(h, 1.0)
    size = (max(1, round((cx2 - cx1) * scale)), max(1, round((cy2 - cy1) * scale)))
    crop = cv2.resize(rgb[cy1:cy2, cx1:cx2], size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    found = detector.forward(crop, _RESCORE_FLOOR)
    expected = np.array([x1 - cx1, y1 - cy1, x2 - cx1, y2 - cy1], np.float32) * scale
    same = _iou(found.boxes, expected) >= 0.3
    return float(found.scores[same].max()) if same.any() else 0.0


def _iou(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """IoU of each of ``boxes`` (N, 4) with ``box`` (4,)."""
    x1 = np.maximum(boxes[:, 0], box[0])
    y1 = np.maximum(boxes[:, 1], box[1])
    x2 = np.minimum(boxes[:, 2], box[2])
    y2 = np.minimum(boxes[:, 3], box[3])
    inter = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + (box[2] - box[0]) * (box[3] - box[1]) - inter, 1e-6)


@dataclass(frozen=True)
class Redacted:
    """The redacted areas of one frame: bounding boxes and whether each is the inscribed ellipse."""

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))  # (M, 4) xyxy
    ellipse: np.ndarray = field(default_factory=lambda: np.zeros((0,), bool))  # (M,)

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, np.float32).reshape(-1, 4)
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "ellipse", np.broadcast_to(np.asarray(self.ellipse, bool), (len(boxes),)).copy())

    def __len__(self) -> int:
        return len(self.boxes)


@dataclass(frozen=True)
class Residual:
    """A face the scanner saw outside every redacted region of its frame."""

    box: tuple[float, float, float, float]
    score: float
    coverage: float  # share of the face's core (eyes to mouth) inside the redacted areas
    confirmation: float  # score when re-detected at ~112 px face height


class ResidualScanner:
    """Finds faces in an anonymized frame and keeps those whose core is not redacted."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, coverage: float = DEFAULT_COVERAGE):
        self.threshold = threshold
        self.coverage = coverage
        self._single = create_detector(MODEL_NAME)
        self.model = self._single.model
        self._detector = MultiScaleDetector(self._single)

    def detect(self, rgb: np.ndarray) -> Detections:
        return self._detector.detect(rgb, self.threshold)

    def scan(self, rgb: np.ndarray, redacted: Redacted) -> tuple[list[Residual], Detections]:
        """(faces left visible, every face seen)."""
        seen = self.detect(rgb)
        return self.residuals(rgb, seen, coverage(seen.boxes, redacted)), seen

    def residuals(self, rgb: np.ndarray, seen: Detections, cover: np.ndarray) -> list[Residual]:
        """The faces of ``seen`` whose core coverage is under the limit and that a re-detection confirms."""
        found = []
        for box, score, c in zip(seen.boxes, seen.scores, cover):
            if c >= self.coverage:
                continue
            confirmed = rescore(self._single, rgb, box)
            if confirmed >= CONFIRM_THRESHOLD:
                found.append(Residual(tuple(float(v) for v in box), float(score), float(c), confirmed))
        return found


# The identifying part of a detector face box (forehead to chin): eyes, nose and mouth.
_CORE = (0.2, 0.3, 0.8, 0.9)  # x1, y1, x2, y2 as fractions of the box


def coverage(boxes: np.ndarray, redacted: Redacted) -> np.ndarray:
    """For each face box, the share of its core (eyes to mouth) inside the union of the redacted areas.

    The union matters in crowds, where one detection can span several neighbouring redactions; the core
    matters because a detector's box of a redacted face often reaches past the redaction (hair, neck).
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    out = np.zeros(len(boxes), np.float32)
    if len(redacted) == 0:
        return out
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    cores = np.stack([boxes[:, 0] + _CORE[0] * w, boxes[:, 1] + _CORE[1] * h,
                      boxes[:, 0] + _CORE[2] * w, boxes[:, 1] + _CORE[3] * h], axis=1)
    for i, (x1, y1, x2, y2) in enumerate(cores):
        left, top = int(np.floor(x1)), int(np.floor(y1))
        mask = np.zeros((max(1, int(np.ceil(y2)) - top), max(1, int(np.ceil(x2)) - left)), np.uint8)
        r = redacted.boxes
        near = (r[:, 0] < left + mask.shape[1]) & (r[:, 2] > left) & (r[:, 1] < top + mask.shape[0]) & (r[:, 3] > top)
        for (rx1, ry1, rx2, ry2), ellipse in zip(r[near] - [left, top, left, top], redacted.ellipse[near]):
            if ellipse:
                centre = (round((rx1 + rx2) * 8), round((ry1 + ry2) * 8))  # 1/16 px, see cv2 shift
                axes = (round((rx2 - rx1) * 8), round((ry2 - ry1) * 8))
                cv2.ellipse(mask, centre, axes, 0, 0, 360, 1, thickness=-1, shift=4)
            else:
                mask[max(0, round(ry1)) : max(0, round(ry2)), max(0, round(rx1)) : max(0, round(rx2))] = 1
        out[i] = mask.mean()
    return out
