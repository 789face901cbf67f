"""Residual-face scan: an independent detector looks for faces that the redaction left visible.

The scanner is RetinaFace MobileNet-0.25 (``veil.detect.retinaface``), a different architecture and
training run from the CenterFace model that veil redacts with by default, so a face that CenterFace
misses is not missed for the same reason here. It runs through a multi-scale plan (native, zoomed tiles
for small faces, downscaled global pass; see ``PLAN``) and, for faces lying on their side, on the downscaled
copy turned a quarter turn each way. Each candidate is then confirmed at a canonical scale, in the
orientation it was found in, with the redacted areas hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from veil.detect import Detector, create_detector
from veil.detect.centerface import nms
from veil.detect.multiscale import MERGE_IOU, MultiScaleDetector, ScalePlan
from veil.detections import Detections, box_iou

MODEL_NAME = "retinaface"
# Chosen on veil's own output of the WIDER subset (benchmarks/audit_residual.py, docs/benchmarks.md):
# lower thresholds find more faces but their extra false alarms are mostly background patterns (torsos,
# hands, clothing) that are the same in the original, so no rule about redacted regions can remove them.
DEFAULT_THRESHOLD = 0.8
# A candidate must score at least this when re-detected at ~112 px face height: a torso seen as a face in
# the downscaled pass does not; every real face >= 32 px sampled from WIDER did. A candidate that touches
# a redacted area must score the scan's own threshold there, with the redacted areas hidden (see residuals).
CONFIRM_THRESHOLD = 0.3
_RESCORE_FACE = 112.0  # px: face height at which a candidate is re-detected
_RESCORE_FLOOR = 0.05
# The scan's own multi-scale plan: like veil's, but small-face candidates down to a score of 0.02 get the
# 2x look. veil's plan trades zoomed area for speed (0.03 there); the audit puts recall first, and on
# the WIDER subset a plan at 0.08 flagged 9 fewer of 791 un-redacted faces >= 32 px than 0.02
# (benchmarks/audit_residual.py, docs/benchmarks.md).
PLAN = ScalePlan(proposal_threshold=0.02)
# Quarter turns (np.rot90) of the extra views for faces lying on their side. Each extra view is one more
# chance for a pattern to look like a face, so these views only report faces the detector is sure of
# (on the WIDER subset a violin scored 0.82 turned, the one sideways face found 0.99).
TURNS = (1, 3)
TURNED_THRESHOLD = 0.95
# A detection counts as redacted when at least this share of its core lies inside the redacted areas.
DEFAULT_COVERAGE = 0.6
# Hiding redacted areas for the confirmation: the mask is grown by this many pixels (at ~112 px face
# height) so that the hard edge and its JPEG ringing go too, and filled in from its surroundings.
_HIDE_GROW = 1
_INPAINT_RADIUS = 5


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

    def mask(self, left: float, top: float, width: int, height: int, scale: float = 1.0) -> np.ndarray:
        """(height, width) uint8, 1 where redacted, for the window whose top-left is frame pixel
        (``left``, ``top``), sampled at ``scale`` output pixels per frame pixel."""
        out = np.zeros((max(1, height), max(1, width)), np.uint8)
        if len(self) == 0:
            return out
        r = (self.boxes - np.array([left, top, left, top], np.float32)) * scale
        near = (r[:, 0] < out.shape[1]) & (r[:, 2] > 0) & (r[:, 1] < out.shape[0]) & (r[:, 3] > 0)
        for (rx1, ry1, rx2, ry2), ellipse in zip(r[near], self.ellipse[near]):
            if ellipse:
                centre = (round((rx1 + rx2) * 8), round((ry1 + ry2) * 8))  # 1/16 px, see cv2 shift
                axes = (round((rx2 - rx1) * 8), round((ry2 - ry1) * 8))
                cv2.ellipse(out, centre, axes, 0, 0, 360, 1, thickness=-1, shift=4)
            else:
                out[max(0, round(ry1)) : max(0, round(ry2)), max(0, round(rx1)) : max(0, round(rx2))] = 1
        return out


@dataclass(frozen=True)
class Seen:
    """Every face the scanner saw in a frame, and the view each was seen in."""

    detections: Detections = field(default_factory=Detections)
    turns: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int8))  # (N,) quarter turns, 0 = upright

    def __len__(self) -> int:
        return len(self.detections)

    @property
    def boxes(self) -> np.ndarray:
        return self.detections.boxes

    @property
    def scores(self) -> np.ndarray:
        return self.detections.scores


@dataclass(frozen=True)
class Residual:
    """A face the scanner saw outside every redacted region of its frame."""

    box: tuple[float, float, float, float]
    score: float
    coverage: float  # share of the face's core (eyes to mouth) inside the redacted areas
    confirmation: float  # score when re-detected at ~112 px face height, redacted areas hidden
    rotation: int = 0  # degrees (counter-clockwise) the frame was turned for the detector to see the face


class ResidualScanner:
    """Finds faces in an anonymized frame and keeps those that are not redacted."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, coverage: float = DEFAULT_COVERAGE):
        self.threshold = threshold
        self.coverage = coverage
        self._single = create_detector(MODEL_NAME)
        self.model = self._single.model
        self._detector = MultiScaleDetector(self._single, PLAN)

    def detect(self, rgb: np.ndarray) -> Detections:
        return self.see(rgb).detections

    def see(self, rgb: np.ndarray) -> Seen:
        """Faces upright (every scale of the plan) and lying on their side (downscaled copy, turned)."""
        height, width = rgb.shape[:2]
        parts = [self._detector.detect(rgb, self.threshold)]
        turns = [np.zeros(len(parts[0]), np.int8)]
        scale = min(1.0, self._detector.plan.global_side / max(height, width))
        small = rgb if scale == 1.0 else cv2.resize(
            rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
        for k in TURNS:
            found = self._single.forward(np.ascontiguousarray(np.rot90(small, k)), max(self.threshold, TURNED_THRESHOLD))
            turned = (width, height) if k % 2 else (height, width)  # the turned frame's height, width
            boxes = turn_boxes(found.boxes / scale, -k, *turned)
            parts.append(Detections(boxes, found.scores).clipped(width, height))
            turns.append(np.full(len(parts[-1]), k, np.int8))
        merged, turns = Detections.merge(parts), np.concatenate(turns)
        keep = nms(merged.boxes, merged.scores, MERGE_IOU)
        return Seen(merged[keep], turns[keep])

    def scan(self, rgb: np.ndarray, redacted: Redacted) -> tuple[list[Residual], Seen]:
        """(faces left visible, every face seen)."""
        seen = self.see(rgb)
        return self.residuals(rgb, seen, coverage(seen.boxes, redacted), redacted), seen

    def residuals(self, rgb: np.ndarray, seen: Seen, cover: np.ndarray, redacted: Redacted | None = None) -> list[Residual]:
        """The faces of ``seen`` that are not redacted: core coverage under the limit, and still a face
        when re-detected at a canonical scale with the redacted areas hidden (see :func:`rescore`).

        Next to a redaction the detector is biased: a blur blob, or a face-shaped hole framed by hair,
        looks like a face to it. So a face whose core touches a redacted area must, with the redacted
        areas hidden, score the scan's own threshold: the evidence must come from unredacted pixels
        alone, as strongly as the scan demands of any face. Other faces need ``CONFIRM_THRESHOLD``.
        """
        found = []
        for box, score, c, k in zip(seen.boxes, seen.scores, cover, seen.turns):
            if c >= self.coverage:
                continue
            confirmed = rescore(self._single, rgb, box, redacted, int(k))
            if confirmed >= (CONFIRM_THRESHOLD if c == 0 else max(CONFIRM_THRESHOLD, self.threshold)):
                found.append(Residual(tuple(float(v) for v in box), float(score), float(c), confirmed, 90 * int(k)))
        return found


def rescore(detector: Detector, rgb: np.ndarray, box: np.ndarray, redacted: Redacted | None = None,
            turns: int = 0) -> float:
    """The score of the face at ``box`` when re-detected in a crop around it at ~112 px face height.

    A face is a face at any scale; a pattern that only looks like one at the odd scale or tile it was
    found in (a torso in the downscaled pass) scores low here. With ``redacted``, the redacted areas in
    the crop are first filled in from their surroundings (inpainting): a face that was only "seen" because
    of a blur blob (its shape, its skin tone, a head-and-neck box around it, blurred leaves) is gone then,
    while a face visible next to a redaction is still there. ``turns`` is the view the face was found in
    (quarter turns counter-clockwise): the crop is turned the same way.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    height, width = rgb.shape[:2]
    cx1, cy1 = max(0, int(x1 - 0.5 * w)), max(0, int(y1 - 0.5 * h))
    cx2, cy2 = min(width, int(x2 + 0.5 * w) + 1), min(height, int(y2 + 0.5 * h) + 1)
    scale = _RESCORE_FACE / max(w if turns % 2 else h, 1.0)  # the face's height as the detector sees it
    size = (max(1, round((cx2 - cx1) * scale)), max(1, round((cy2 - cy1) * scale)))
    crop = cv2.resize(rgb[cy1:cy2, cx1:cx2], size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    if redacted is not None and len(redacted):
        hidden = redacted.mask(cx1, cy1, size[0], size[1], scale)
        if hidden.any():
            hidden = cv2.dilate(hidden, np.ones((2 * _HIDE_GROW + 1,) * 2, np.uint8))
            crop = cv2.inpaint(np.ascontiguousarray(crop), hidden, _INPAINT_RADIUS, cv2.INPAINT_TELEA)
    expected = np.array([[x1 - cx1, y1 - cy1, x2 - cx1, y2 - cy1]], np.float32) * scale
    if turns % 4:
        expected = turn_boxes(expected, turns, size[1], size[0])
        crop = np.rot90(crop, turns)
    found = detector.forward(np.ascontiguousarray(crop), _RESCORE_FLOOR)
    same = box_iou(found.boxes, expected)[:, 0] >= 0.3
    return float(found.scores[same].max()) if same.any() else 0.0


def turn_boxes(boxes: np.ndarray, turns: int, height: int, width: int) -> np.ndarray:
    """Boxes of a ``height`` x ``width`` image, in the image turned ``turns`` quarter turns
    counter-clockwise (``np.rot90(image, turns)``; negative turns go back)."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    for _ in range(turns % 4):  # one turn: (x, y) -> (y, width - x), and the image becomes width x height
        b = np.stack([b[:, 1], width - b[:, 2], b[:, 3], width - b[:, 0]], axis=1)
        height, width = width, height
    return b


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
        out[i] = redacted.mask(left, top, int(np.ceil(x2)) - left, int(np.ceil(y2)) - top).mean()
    return out
