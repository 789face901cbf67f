"""Metric code of benchmarks/ on synthetic arrays (needs no ../shared data)."""

import importlib.util
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "metrics.py"
_spec = importlib.util.spec_from_file_location("veil_bench_metrics", _PATH)
metrics = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = metrics
_spec.loader.exec_module(metrics)


# ----------------------------------------------------------------------------- WIDER AP

def test_iou_uses_plus_one_pixel_convention():
    a = np.array([[0, 0, 9, 9]])
    assert metrics.iou_plus1(a, a)[0, 0] == pytest.approx(1.0)
    # 10x10 boxes sharing 5 columns: 50 / (100 + 100 - 50)
    assert metrics.iou_plus1(a, np.array([[5, 0, 14, 9]]))[0, 0] == pytest.approx(1 / 3)
    assert metrics.iou_plus1(a, np.array([[20, 20, 30, 30]]))[0, 0] == 0.0


def test_ap_toy_case_with_known_answer():
    gt = np.array([[0, 0, 20, 20], [100, 100, 120, 120]], float)
    pred = np.array([
        [0, 0, 20, 20, 0.9],  # TP
        [50, 50, 70, 70, 0.8],  # FP
        [100, 100, 120, 120, 0.7],  # TP
    ])
    # normalised scores 1, 0.5, 0: (P=1, R=.5), then (P=.5, R=.5), then at threshold 0 (P=2/3, R=1)
    ap = metrics.wider_ap([pred], [gt], [np.array([True, True])])
    assert ap == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_prediction_on_ignored_face_is_neither_tp_nor_fp():
    gt = np.array([[0, 0, 20, 20], [100, 100, 120, 120]], float)
    kept = np.array([True, False])
    pred = np.array([[100, 100, 120, 120, 0.9], [0, 0, 20, 20, 0.5], [0, 0, 20, 20, 0.4]])
    pred_recall, proposal = metrics.image_eval(pred, gt, kept)
    assert proposal.tolist() == [False, True, True]  # the duplicate on a recalled face stays a proposal
    assert pred_recall.tolist() == [0, 1, 1]
    assert metrics.wider_ap([pred], [gt], [kept]) == pytest.approx(1.0)


def test_faces_of_images_without_predictions_count_in_recall():
    gt = np.array([[0, 0, 20, 20]], float)
    pred = np.array([[0, 0, 20, 20, 0.9], [40, 40, 60, 60, 0.1]])
    ap = metrics.wider_ap([pred, np.zeros((0, 5))], [gt, gt], [np.array([True])] * 2)
    assert ap == pytest.approx(0.5)


def test_image_pr_matches_the_per_threshold_loop_of_the_reference_tool():
    rng = np.random.default_rng(0)
    scores = np.sort(rng.random(40))[::-1]
    proposal = rng.random(40) > 0.3
    pred_recall = np.cumsum(rng.random(40) > 0.6)
    fast = metrics.image_pr(scores, proposal, pred_recall, 1000)
    for t in range(1000):
        thresh = 1 - (t + 1) / 1000
        idx = np.where(scores >= thresh)[0]
        expected = (0, 0) if len(idx) == 0 else (proposal[: idx[-1] + 1].sum(), pred_recall[idx[-1]])
        assert tuple(fast[t]) == expected


def test_voc_ap_all_point_interpolation():
    recall = np.array([0.5, 0.5, 1.0])
    precision = np.array([1.0, 0.5, 0.25])
    assert metrics.voc_ap(recall, precision) == pytest.approx(0.5 + 0.5 * 0.25)


# ----------------------------------------------------------------------------- leak criterion

def _textured(size: int = 256) -> np.ndarray:
    """Detail at every scale: noise blurred at several widths, as RGB uint8."""
    rng = np.random.default_rng(1)
    layers = [cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), s) * s for s in (0.5, 2, 4, 8)]
    gray = sum(layers)
    gray = 128 + 60 * gray / gray.std()
    return np.repeat(gray.clip(0, 255).astype(np.uint8)[..., None], 3, axis=2)


def _blur_box(rgb: np.ndarray, box, sigma: float, grow: float = 1.3) -> np.ndarray:
    x1, y1, x2, y2 = box
    cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * grow / 2, (y2 - y1) * grow / 2
    a, b = int(cx - hw), int(cy - hh)
    c, d = int(np.ceil(cx + hw)), int(np.ceil(cy + hh))
    out = rgb.copy()
    out[b:d, a:c] = cv2.GaussianBlur(rgb[b:d, a:c], (0, 0), sigma)
    return out


def _detail(rgb_in, rgb_out, box, sigma=None):
    changed = metrics.changed_mask(rgb_in, rgb_out)
    return metrics.face_detail(metrics.to_gray(rgb_in), metrics.to_gray(rgb_out), changed, np.array(box, float), sigma)


@pytest.mark.parametrize("box", [(100, 100, 110, 112), (80, 80, 104, 110), (60, 60, 160, 180)])
def test_untouched_face_leaks_and_strongly_blurred_face_does_not(box):
    rgb = _textured()
    assert _detail(rgb, rgb, box).leaked
    blurred = _detail(rgb, _blur_box(rgb, box, sigma=(box[2] - box[0]) / 3), box)
    assert blurred.survival < metrics.LEAK_RATIO and not blurred.leaked


def test_weak_blur_of_a_large_face_leaks_only_with_the_scale_aware_sigma():
    rgb = _textured()
    box = (40, 40, 200, 220)  # 180 px tall: detail measured at sigma 180/32
    out = _blur_box(rgb, box, sigma=2.0)
    assert _detail(rgb, out, box).leaked
    assert not _detail(rgb, out, box, sigma=1.0).leaked


def test_half_covered_face_leaks():
    rgb = _textured()
    box = (60, 60, 124, 140)
    out = rgb.copy()
    out[:, :92] = cv2.GaussianBlur(rgb, (0, 0), 20)[:, :92]  # left half of the face blurred away
    assert 0.3 < _detail(rgb, out, box).survival < 0.7


def test_detail_added_by_the_redaction_does_not_count_as_surviving():
    rgb = _textured()
    box = (100, 100, 108, 110)  # tiny face
    out = rgb.copy()
    out[98:112, 98:110] = 128  # a flat fill whose hard edge lies next to the face ellipse
    out[98:112, 98:110] += np.random.default_rng(2).integers(0, 40, (14, 12, 1), dtype=np.uint8)
    detail = _detail(rgb, out, box)
    assert detail.abs_ratio > metrics.LEAK_RATIO  # the |hp| ratio counts the new edges and noise
    assert not detail.leaked


def test_detail_free_face_counts_as_covered_only_when_changed():
    rgb = np.full((64, 64, 3), 40, np.uint8)
    box = (16, 16, 48, 48)
    assert _detail(rgb, rgb, box).flat and _detail(rgb, rgb, box).leaked
    filled = rgb.copy()
    filled[10:54, 10:54] = 0
    assert not _detail(rgb, filled, box).leaked


def test_ellipse_of_a_tiny_box_holds_at_least_one_pixel():
    mask = metrics.ellipse_in_box(np.array([10.2, 10.2, 10.6, 10.6]), (8, 8), (5, 5))
    assert mask.sum() == 1 and mask[2, 2]


# ----------------------------------------------------------------------------- pixels outside faces

def test_over_redaction_counts_changed_pixels_outside_face_boxes_only():
    before = np.full((100, 100, 3), 100, np.uint8)
    after = before.copy()
    after[60:70, 60:70, 1] += 5  # 100 changed pixels outside
    after[80:90, 0:10] += 2  # within tolerance: unchanged
    after[10:30, 10:30] = 0  # inside the face box: not over-redaction
    changed = metrics.changed_mask(before, after)
    assert changed.sum() == 100 + 400
    assert metrics.over_redaction(changed, np.array([[10, 10, 30, 30]], float)) == (100, 100 * 100 - 400)


def test_box_coverage_and_detection_overlap():
    gt = np.array([[10, 10, 30, 30], [50, 50, 60, 60]], float)
    regions = np.array([[0, 0, 20, 40]], float)
    assert metrics.box_coverage(gt, regions, (100, 100)).tolist() == [0.5, 0.0]
    assert metrics.overlaps_any(gt, regions).tolist() == [True, False]
    assert metrics.overlaps_any(gt, np.zeros((0, 4))).tolist() == [False, False]


def test_bands():
    assert [metrics.band_of(h) for h in (3, 15.9, 16, 31, 32, 63.5, 64, 500)] == [
        "<16", "<16", "16-32", "16-32", "32-64", "32-64", ">=64", ">=64"]
