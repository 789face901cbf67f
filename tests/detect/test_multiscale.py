import numpy as np
import pytest
from synthetic import synthetic_crowd

from veil.detect import create_detector
from veil.detect.multiscale import MultiScaleDetector, ScalePlan, _grid, merge_passes
from veil.detections import Detections
from veil.pipeline import DEFAULT_DETECTOR


@pytest.fixture(scope="module")
def detector():
    return MultiScaleDetector(create_detector(DEFAULT_DETECTOR))


def covered(boxes, found, min_fraction=0.6):
    """Share of each true box inside some found box grown by 1.3 (how veil's default mask covers it)."""
    out = []
    for gx1, gy1, gx2, gy2 in boxes:
        best = 0.0
        for x1, y1, x2, y2 in found.boxes:
            cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * 0.65, (y2 - y1) * 0.65
            ix = max(0, min(gx2, cx + hw) - max(gx1, cx - hw))
            iy = max(0, min(gy2, cy + hh) - max(gy1, cy - hh))
            best = max(best, ix * iy / ((gx2 - gx1) * (gy2 - gy1)))
        out.append(best >= min_fraction)
    return np.array(out)


def test_finds_every_face_from_20_px_up(detector):
    image, boxes = synthetic_crowd([20, 24, 32, 48, 64, 96, 150, 200], seed=1)
    assert covered(boxes, detector.detect(image, 0.1)).all()


def test_zoom_pass_finds_small_faces_in_a_crowd(detector):
    heights = [14, 16, 18] * 8 + [40]
    image, boxes = synthetic_crowd(heights, seed=2)
    hits = covered(boxes, detector.detect(image, 0.1))
    native = covered(boxes, MultiScaleDetector(detector.detector, ScalePlan(zoom=1.0)).detect(image, 0.1))
    assert hits.mean() >= 0.9
    assert hits.sum() > native.sum()


def test_large_image_gets_a_global_pass(detector):
    image, boxes = synthetic_crowd([700], width=2600, height=1800, seed=3)
    assert covered(boxes, detector.detect(image, 0.1)).all()


def test_detections_stay_inside_the_image(detector):
    image, _ = synthetic_crowd([30, 60], seed=4)
    found = detector.detect(image, 0.05)
    assert (found.boxes >= 0).all() and (found.boxes[:, 2] <= 1024).all() and (found.boxes[:, 3] <= 768).all()


def test_grid_covers_the_image_with_overlap():
    tiles = _grid(5000, 3000, 2048, 24)
    mask = np.zeros((3000, 5000), bool)
    for x1, y1, x2, y2 in tiles:
        mask[y1:y2, x1:x2] = True
    assert mask.all()
    assert _grid(800, 600, 2048, 24) == [(0, 0, 800, 600)]



def test_merged_box_covers_every_pass_that_saw_the_face_about_as_clearly():
    native = Detections(np.array([[100, 100, 140, 150]], np.float32), np.array([0.6], np.float32))
    zoomed = Detections(np.array([[96, 104, 136, 156]], np.float32), np.array([0.7], np.float32))
    merged = merge_passes([native, zoomed])
    assert len(merged) == 1
    np.testing.assert_allclose(merged.boxes[0], [96, 100, 140, 156])
    assert merged.scores[0] == pytest.approx(0.7)


def test_weak_overlapping_box_does_not_grow_the_merged_box():
    strong = Detections(np.array([[100, 100, 140, 150]], np.float32), np.array([0.8], np.float32))
    weak = Detections(np.array([[90, 100, 140, 160]], np.float32), np.array([0.3], np.float32))
    merged = merge_passes([strong, weak])
    np.testing.assert_allclose(merged.boxes, strong.boxes)


def test_separate_faces_stay_separate():
    a = Detections(np.array([[0, 0, 20, 25]], np.float32), np.array([0.9], np.float32))
    b = Detections(np.array([[30, 0, 50, 25]], np.float32), np.array([0.5], np.float32))
    merged = merge_passes([a, b, Detections()])
    assert len(merged) == 2
    assert len(merge_passes([Detections(), Detections()])) == 0
