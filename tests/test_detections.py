import numpy as np
import pytest

from veil.detections import Detections


def test_empty_by_default():
    d = Detections()
    assert len(d) == 0 and d.boxes.shape == (0, 4)


def test_sources_default_to_detector():
    d = Detections([[0, 0, 10, 10]], [0.9])
    assert d.sources.tolist() == ["detector"]


def test_length_mismatch_is_refused():
    with pytest.raises(ValueError):
        Detections([[0, 0, 1, 1]], [0.5, 0.6])


def test_scaled_and_shifted():
    d = Detections([[10, 20, 30, 40]], [1.0]).scaled(0.5, dx=100, dy=200)
    np.testing.assert_allclose(d.boxes, [[105, 210, 115, 220]])


def test_clipped_drops_boxes_outside():
    d = Detections([[-5, -5, 5, 5], [200, 200, 210, 210]], [0.9, 0.8]).clipped(100, 100)
    np.testing.assert_allclose(d.boxes, [[0, 0, 5, 5]])


def test_merge_and_index():
    a = Detections([[0, 0, 1, 1]], [0.1])
    b = Detections([[2, 2, 3, 3]], [0.2], ["track"])
    m = Detections.merge([a, Detections(), b])
    assert len(m) == 2 and m.sources.tolist() == ["detector", "track"]
    assert m[m.scores > 0.15].sources.tolist() == ["track"]


def test_non_finite_boxes_are_refused_not_dropped():
    with pytest.raises(ValueError, match="non-finite"):
        Detections([[0, 0, float("nan"), 10]], [0.9])
    with pytest.raises(ValueError, match="non-finite"):
        Detections([[0, 0, 10, 10]], [float("inf")])
