import numpy as np
import pytest
from synthetic import ASTRONAUT_FACE, astronaut, head_crop, synthetic_crowd

from veil.audit.residual import Redacted, coverage


def test_coverage_is_the_share_of_the_face_core_inside_the_union_of_redactions():
    boxes = np.array([[0, 0, 10, 10], [100, 100, 110, 110]], np.float32)  # cores: x 2-8, y 3-9
    np.testing.assert_allclose(coverage(boxes, Redacted([[5, 0, 20, 10], [0, 0, 2, 10]], False)), [0.5, 0.0])
    np.testing.assert_allclose(coverage(boxes, Redacted([[0, 0, 5, 10], [5, 0, 20, 10]], False)), [1.0, 0.0])
    assert coverage(boxes, Redacted()).tolist() == [0.0, 0.0]
    assert coverage(np.zeros((0, 4)), Redacted([[0, 0, 1, 1]], True)).shape == (0,)


def test_ellipse_covers_less_than_its_box():
    face = np.array([[0, 0, 100, 100]], np.float32)
    as_box = coverage(face, Redacted([[0, 40, 100, 140]], False))[0]
    as_ellipse = coverage(face, Redacted([[0, 40, 100, 140]], True))[0]
    assert as_box == pytest.approx(50 / 60, abs=0.02)
    assert 0.2 < as_ellipse < as_box


def test_independent_detector_finds_the_astronaut(scanner):
    found = scanner.detect(astronaut())
    assert len(found) == 1
    assert coverage(np.array([ASTRONAUT_FACE], np.float32), Redacted(found.boxes, False))[0] > 0.9
    assert scanner.model.name != "centerface"


@pytest.mark.parametrize("seed", range(3))
def test_every_unredacted_face_of_32px_and_more_is_flagged(scanner, seed):
    crowd, faces = synthetic_crowd([32, 48, 72, 110, 170], width=900, height=700, seed=seed)
    residuals, _seen = scanner.scan(crowd, Redacted())
    found = np.array([r.box for r in residuals], np.float32).reshape(-1, 4)
    hit = [coverage(face[None], Redacted(found, False))[0] > 0.5 for face in faces]
    assert all(hit), f"faces missed: {faces[~np.array(hit)]}"


def test_large_face_filling_the_frame_is_found(scanner):
    head, _ = head_crop()
    big = np.asarray(np.kron(head, np.ones((6, 6, 1), np.uint8)))  # a ~780 px face
    assert len(scanner.detect(big)) >= 1


def test_face_inside_a_redacted_region_is_not_flagged(scanner):
    residuals, seen = scanner.scan(astronaut(), Redacted([[150, 30, 300, 210]], True))
    assert len(seen) == 1 and residuals == []
