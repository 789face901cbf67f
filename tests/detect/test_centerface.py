import numpy as np
import pytest
from synthetic import ASTRONAUT_FACE, astronaut

from veil.detect import Detector, create_detector
from veil.detect.centerface import STRIDE, decode
from veil.errors import ModelError


@pytest.fixture(scope="module", params=["centerface-int8", "centerface"])
def centerface(request):
    return create_detector(request.param)


def iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_is_a_detector(centerface):
    assert isinstance(centerface, Detector)


def test_finds_the_astronaut(centerface):
    found = centerface.forward(astronaut(), 0.5)
    assert len(found) == 1
    assert iou(found.boxes[0], ASTRONAUT_FACE) > 0.6


def test_any_input_size(centerface):
    odd = np.zeros((101, 77, 3), np.uint8)
    assert len(centerface.forward(odd, 0.5)) == 0


def test_decode_places_a_box_at_the_peak():
    heatmap = np.zeros((10, 10), np.float32)
    heatmap[4, 6] = 0.9
    scale = np.zeros((2, 10, 10), np.float32)
    scale[:, 4, 6] = np.log(20 / STRIDE)  # a 20 px box
    offset = np.zeros((2, 10, 10), np.float32)
    found = decode(heatmap, scale, offset, 0.5)
    cx, cy = (6 + 0.5) * STRIDE, (4 + 0.5) * STRIDE
    np.testing.assert_allclose(found.boxes, [[cx - 10, cy - 10, cx + 10, cy + 10]], atol=1e-4)
    np.testing.assert_allclose(found.scores, [0.9])


def test_decode_suppresses_duplicates():
    heatmap = np.zeros((10, 10), np.float32)
    heatmap[4, 6], heatmap[4, 7] = 0.9, 0.8  # neighbouring cells, same 40 px face
    scale = np.full((2, 10, 10), np.log(40 / STRIDE), np.float32)
    found = decode(heatmap, scale, np.zeros((2, 10, 10), np.float32), 0.5)
    assert len(found) == 1 and found.scores[0] == pytest.approx(0.9)


def test_decode_nothing_above_threshold():
    z = np.zeros((2, 5, 5), np.float32)
    assert len(decode(np.zeros((5, 5), np.float32), z, z, 0.1)) == 0


def test_unknown_detector():
    with pytest.raises(ModelError):
        create_detector("nope")


def test_second_detector_plugs_in_by_name():
    retina = create_detector("retinaface")
    assert isinstance(retina, Detector) and retina.model.license == "MIT"
    (box,) = retina.forward(astronaut(), 0.5).boxes
    assert iou(box, ASTRONAUT_FACE) > 0.6
