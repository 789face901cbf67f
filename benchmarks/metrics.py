"""Metric code of the photo benchmark: WIDER FACE AP, leak rate on output pixels, over-redaction.

Pure functions on numpy arrays (no file access), so they can be tested on synthetic data.
Boxes are float ``x1, y1, x2, y2`` in pixels unless a name says ``xywh``.

WIDER FACE AP follows the widely used Python port of the official MATLAB tool
(wondervictor/WiderFace-Evaluation, as described in ../shared/data/wider_face_val_subset/README.md):
min-max score normalisation over the whole prediction set, 1000 thresholds ``1 - (t+1)/1000``,
IoU >= 0.5 with the +1-pixel convention, predictions matching an ignored face dropped, VOC all-point AP.

Leak criterion (decided on the output pixels): a face is *leaked* when more than ``LEAK_RATIO`` of its own
fine detail survives inside the ellipse inscribed in its ground-truth box. With ``hp(img) = gray -
GaussianBlur(gray, sigma)`` the high-pass image and sums over that ellipse::

    survival = sum(hp(input) * hp(output)) / sum(hp(input) ** 2)
    leaked  <=> survival > LEAK_RATIO

``survival`` is the share of the input's detail pattern still present in the output: 1 for an untouched face,
``a`` when the detail is only attenuated by ``a``, about the untouched share for a partly covered face, ~0
after a strong blur or a fill. Detail the redaction adds (the hard edge of the mask next to a tiny face,
noise) does not correlate with the face and does not count. The brief's first proposal, the ratio of summed
``|hp|`` output / input, also counted those edges: fed the ground-truth boxes themselves (a perfect
detector), it called 2-3% of WIDER faces under 16 px leaked for either tool's redaction and 3-12% on the
mask set, where this criterion gives 0-2%. That ratio at sigma = 1 is still reported for comparison.

``sigma = max(1, face height / 32)``: detail is measured at the scale of the face resampled to about 32 px
tall, where a face is still recognisable. With a fixed sigma of 1 px a large face that is only slightly
blurred (sigma of 2-3 px, still recognisable) would count as covered, because all of its 1-px texture is gone.
A face whose input ellipse has almost no detail (mean ``|hp|`` below ``FLAT_DETAIL`` grey levels, a featureless
dark or burnt-out patch) gives no usable ratio; it counts as covered only if at least half of its ellipse pixels
changed. Changed pixel = any channel differs by more than ``CHANGE_TOLERANCE``.
Caveats: block edges of a pixelated face correlate partly with the face, so the criterion is meant for blur
and solid fill. It is conservative for masked faces: a face mask is high-contrast detail, so a blurred upper
face over an untouched mask (a detection sitting above the GT box) can count as leaked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

LEAK_RATIO = 0.3
FLAT_DETAIL = 0.5
CHANGE_TOLERANCE = 2
IDENTITY_HEIGHT = 32.0
BANDS = (("<16", 0.0, 16.0), ("16-32", 16.0, 32.0), ("32-64", 32.0, 64.0), (">=64", 64.0, math.inf))


def band_of(height: float) -> str:
    for name, low, high in BANDS:
        if low <= height < high:
            return name
    raise ValueError(f"face height {height} outside all bands")


# ----------------------------------------------------------------------------- WIDER FACE AP

def iou_plus1(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of xyxy boxes with the +1-pixel area convention of the official tool."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + 1
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + 1
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)
    area_b = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(inter > 0, inter / union, 0.0)


def image_eval(pred: np.ndarray, gt: np.ndarray, kept: np.ndarray, iou: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Match one image's predictions (xyxy+score, descending score) to its GT boxes (xyxy).

    Returns (recalled kept faces after each prediction, proposal flag per prediction); a prediction whose best
    GT is an ignored face (``kept`` False) at IoU >= ``iou`` is not a proposal.
    """
    overlaps = iou_plus1(pred[:, :4], gt)
    recalled = np.zeros(len(gt), np.int8)  # 0 not yet, 1 recalled, -1 ignored face that was hit
    proposal = np.ones(len(pred), bool)
    pred_recall = np.zeros(len(pred), np.int64)
    for h in range(len(pred)):
        best = int(overlaps[h].argmax())
        if overlaps[h, best] >= iou:
            if not kept[best]:
                recalled[best] = -1
                proposal[h] = False
            elif recalled[best] == 0:
                recalled[best] = 1
        pred_recall[h] = int((recalled == 1).sum())
    return pred_recall, proposal


def image_pr(scores: np.ndarray, proposal: np.ndarray, pred_recall: np.ndarray, thresh_num: int = 1000) -> np.ndarray:
    """(thresh_num, 2): proposals and recalled faces at each threshold ``1 - (t+1)/thresh_num``."""
    thresholds = 1 - (np.arange(thresh_num) + 1) / thresh_num
    # scores are descending, so the predictions at or above a threshold are a prefix
    counts = np.searchsorted(-scores, -thresholds, side="right")
    proposals_cum = np.concatenate([[0], np.cumsum(proposal)])
    recall_at = np.concatenate([[0], pred_recall])
    return np.stack([proposals_cum[counts], recall_at[counts]], axis=1).astype(np.float64)


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC all-point interpolated area under the PR curve."""
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def normalise_scores(preds: list[np.ndarray]) -> list[np.ndarray]:
    """Min-max normalise the scores (last column) over all images, as the official tool does."""
    scores = [p[:, 4] for p in preds if len(p)]
    if not scores:
        return [p.copy() for p in preds]
    # the tool starts from max=0, min=1
    high = max(0.0, float(max(s.max() for s in scores)))
    low = min(1.0, float(min(s.min() for s in scores)))
    span = high - low if high > low else 1.0
    out = []
    for p in preds:
        p = np.asarray(p, np.float64).copy()
        p[:, 4] = (p[:, 4] - low) / span
        out.append(p)
    return out


def wider_ap(preds: list[np.ndarray], gts: list[np.ndarray], kept: list[np.ndarray], thresh_num: int = 1000) -> float:
    """AP of one WIDER setting. ``preds[i]`` (N,5) xyxy+score, ``gts[i]`` (M,4) xyxy, ``kept[i]`` (M,) bool."""
    pr = np.zeros((thresh_num, 2))
    count_face = 0
    for pred, gt, keep in zip(normalise_scores(preds), gts, kept):
        count_face += int(np.count_nonzero(keep))
        if len(gt) == 0 or len(pred) == 0:
            continue
        pred = pred[np.argsort(-pred[:, 4], kind="stable")]
        pred_recall, proposal = image_eval(pred, gt, np.asarray(keep, bool))
        pr += image_pr(pred[:, 4], proposal, pred_recall, thresh_num)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(pr[:, 0] > 0, pr[:, 1] / pr[:, 0], 0.0)
    recall = pr[:, 1] / max(count_face, 1)
    return voc_ap(recall, precision)


# ----------------------------------------------------------------------------- pixels

def to_gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32), cv2.COLOR_RGB2GRAY)


def changed_mask(before: np.ndarray, after: np.ndarray, tolerance: int = CHANGE_TOLERANCE) -> np.ndarray:
    """HxW bool: some channel differs by more than ``tolerance``."""
    diff = np.abs(before.astype(np.int32) - after.astype(np.int32))
    return (diff > tolerance).any(axis=2) if diff.ndim == 3 else diff > tolerance


def box_mask(boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """HxW bool union of xyxy boxes (every pixel a box touches)."""
    mask = np.zeros(shape, bool)
    for x1, y1, x2, y2 in _pixel_spans(boxes, shape):
        mask[y1:y2, x1:x2] = True
    return mask


def _pixel_spans(boxes: np.ndarray, shape: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    height, width = shape
    spans = []
    for x1, y1, x2, y2 in np.asarray(boxes, np.float64).reshape(-1, 4):
        spans.append((max(0, math.floor(x1)), max(0, math.floor(y1)), min(width, math.ceil(x2)), min(height, math.ceil(y2))))
    return spans


def over_redaction(changed: np.ndarray, gt_boxes: np.ndarray) -> tuple[int, int]:
    """(changed pixels outside all GT boxes, pixels outside all GT boxes)."""
    outside = ~box_mask(gt_boxes, changed.shape)
    return int(np.count_nonzero(changed & outside)), int(np.count_nonzero(outside))


def box_coverage(gt_boxes: np.ndarray, regions: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Share of each GT box's pixels inside the union of the redacted region boxes."""
    covered = box_mask(regions, shape)
    out = []
    for x1, y1, x2, y2 in _pixel_spans(gt_boxes, shape):
        area = max(0, x2 - x1) * max(0, y2 - y1)
        out.append(np.count_nonzero(covered[y1:y2, x1:x2]) / area if area else 0.0)
    return np.asarray(out, np.float64)


def overlaps_any(gt_boxes: np.ndarray, dets: np.ndarray) -> np.ndarray:
    """Per GT box: does any detection box intersect it with positive area."""
    gt = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
    dt = np.asarray(dets, np.float64).reshape(-1, 4)
    if len(dt) == 0:
        return np.zeros(len(gt), bool)
    iw = np.minimum(gt[:, None, 2], dt[None, :, 2]) - np.maximum(gt[:, None, 0], dt[None, :, 0])
    ih = np.minimum(gt[:, None, 3], dt[None, :, 3]) - np.maximum(gt[:, None, 1], dt[None, :, 1])
    return ((iw > 0) & (ih > 0)).any(axis=1)


def ellipse_in_box(box: np.ndarray, origin: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """Bool mask (of a crop at ``origin`` x, y with ``shape``) of pixel centres inside the box's inscribed ellipse.

    A box too small to hold a pixel centre in its ellipse gets the pixel under its centre.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    ox, oy = origin
    ys = np.arange(shape[0], dtype=np.float64)[:, None] + oy + 0.5
    xs = np.arange(shape[1], dtype=np.float64)[None, :] + ox + 0.5
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    ax, ay = max((x2 - x1) / 2, 1e-6), max((y2 - y1) / 2, 1e-6)
    mask = ((xs - cx) / ax) ** 2 + ((ys - cy) / ay) ** 2 <= 1.0
    if not mask.any():
        row, col = int(cy) - oy, int(cx) - ox
        if 0 <= row < shape[0] and 0 <= col < shape[1]:
            mask[row, col] = True
    return mask


@dataclass(frozen=True)
class FaceDetail:
    """High-pass statistics of one face's ellipse in the input and output images."""

    energy_in: float  # sum hp_in ** 2
    shared: float  # sum hp_in * hp_out
    abs_in: float  # sum |hp_in|
    abs_out: float  # sum |hp_out|
    pixels: int  # ellipse pixels
    changed: float  # share of ellipse pixels changed

    @property
    def flat(self) -> bool:
        return self.abs_in < FLAT_DETAIL * self.pixels

    @property
    def survival(self) -> float:
        return self.shared / self.energy_in if self.energy_in > 0 else 0.0

    @property
    def abs_ratio(self) -> float:
        return self.abs_out / self.abs_in if self.abs_in > 0 else math.inf

    @property
    def leaked(self) -> bool:
        return self.changed < 0.5 if self.flat else self.survival > LEAK_RATIO

    @property
    def leaked_abs_ratio(self) -> bool:
        """The brief's first proposal: summed |hp| output / input above ``LEAK_RATIO``."""
        return self.changed < 0.5 if self.flat else self.abs_ratio > LEAK_RATIO


def face_detail(gray_in: np.ndarray, gray_out: np.ndarray, changed: np.ndarray, box: np.ndarray,
                sigma: float | None = None) -> FaceDetail:
    """Detail of one face in input and output (float grey images); ``sigma`` None = scale-aware."""
    x1, y1, x2, y2 = (float(v) for v in box)
    if sigma is None:
        sigma = max(1.0, (y2 - y1) / IDENTITY_HEIGHT)
    pad = math.ceil(3 * sigma) + 1
    height, width = gray_in.shape
    cx1, cy1 = max(0, math.floor(x1) - pad), max(0, math.floor(y1) - pad)
    cx2, cy2 = min(width, math.ceil(x2) + pad), min(height, math.ceil(y2) + pad)
    mask = ellipse_in_box(box, (cx1, cy1), (cy2 - cy1, cx2 - cx1))
    high = []
    for gray in (gray_in, gray_out):
        crop = gray[cy1:cy2, cx1:cx2]
        high.append((crop - cv2.GaussianBlur(crop, (0, 0), sigma, borderType=cv2.BORDER_REFLECT))[mask].astype(np.float64))
    hp_in, hp_out = high
    pixels = int(mask.sum())
    share = float(changed[cy1:cy2, cx1:cx2][mask].mean()) if pixels else 0.0
    return FaceDetail(float(hp_in @ hp_in), float(hp_in @ hp_out), float(np.abs(hp_in).sum()),
                      float(np.abs(hp_out).sum()), pixels, share)
