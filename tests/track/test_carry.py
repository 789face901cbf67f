"""veil.track: association, interpolation, forwards and backwards carry, camera motion."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from veil.detections import Detections
from veil.track import Associator, CarryPolicy, TemporalCarry
from veil.track.motion import IDENTITY, estimate_motion, frame_change, warp_boxes


def dets(*boxes, score=0.9) -> Detections:
    return Detections(np.asarray(boxes, np.float32).reshape(-1, 4), [score] * len(boxes))


def test_associator_links_a_moving_face_and_starts_a_new_track_far_away():
    assoc = Associator(max_gap=4)
    (a,) = assoc.update(0, dets([10, 10, 50, 60]))
    b, c = assoc.update(2, dets([16, 10, 56, 60], [300, 300, 340, 350]))
    assert b is a and c is not a
    assert a.frames == [0, 2]


def test_associator_never_links_boxes_of_very_different_size():
    assoc = Associator(max_gap=4)
    (a,) = assoc.update(0, dets([10, 10, 50, 60]))
    (b,) = assoc.update(1, dets([10, 10, 150, 160]))
    assert b is not a


def test_weak_detections_only_continue_tracks():
    carry = TemporalCarry(CarryPolicy(lookahead=2, coast=2, max_gap=2))
    carry.observe(0, dets([10, 10, 50, 60]))
    carry.observe(1, Detections(np.array([[12, 10, 52, 60], [400, 400, 440, 450]], np.float32), [0.15, 0.15]), weak_below=0.3)
    for index in range(4):
        carry.observe(index + 2, Detections())
    carry.resolve(0)
    frame1 = carry.resolve(1)
    assert len(frame1) == 1 and frame1.boxes[0][0] == 12  # the weak box far from any track is dropped


def detected_at_0_and_4(first, second, growth: float) -> TemporalCarry:
    """A carry with one face detected in frames 0 and 4 and nothing else observed up to frame 10."""
    carry = TemporalCarry(CarryPolicy(lookahead=4, coast=0, max_gap=4, growth=growth))
    carry.observe(0, dets(first))
    carry.observe(4, dets(second))
    for index in range(5, 11):
        carry.observe(index, Detections())
    return carry


def test_interpolation_between_detections():
    carry = detected_at_0_and_4([0, 0, 40, 40], [8, 0, 48, 40], growth=0.0)
    assert carry.settled(2) and not carry.settled(3)  # look-ahead 4 plus a velocity baseline of 4
    found = [carry.resolve(i) for i in range(5)]
    assert [f.sources.tolist() for f in found] == [["detector"]] + [["interpolation"]] * 3 + [["detector"]]
    np.testing.assert_allclose(found[2].boxes[0], [4, 0, 44, 40])


def test_faces_are_carried_backwards_before_their_first_detection_and_forwards_after_the_last():
    carry = TemporalCarry(CarryPolicy(lookahead=3, coast=2, max_gap=3, growth=0.1))
    for index in range(12):
        carry.observe(index, dets([100, 100, 140, 150]) if index == 6 else Detections())
    found = {i: carry.resolve(i) for i in range(12)}
    covered = [i for i, f in found.items() if len(f)]
    assert covered == [3, 4, 5, 6, 7, 8]
    assert set(found[3].sources) == {"track"}
    assert found[3].widths[0] > found[5].widths[0] > 40  # less certain further away: grown


def test_carried_boxes_follow_the_camera():
    carry = TemporalCarry(CarryPolicy(lookahead=4, coast=4, max_gap=4, growth=0.0))
    pan = np.array([[1, 0, -10], [0, 1, 0], [0, 0, 1]], np.float64)  # scene moves 10 px left per frame
    for index in range(8):
        carry.moved(index, pan if index else IDENTITY)
        carry.observe(index, dets([200, 100, 240, 150]) if index == 4 else Detections())
    boxes = {i: carry.resolve(i) for i in range(8)}
    np.testing.assert_allclose(boxes[2].boxes[0], [220, 100, 260, 150])
    np.testing.assert_allclose(boxes[6].boxes[0], [180, 100, 220, 150])


def test_a_face_still_in_a_panning_scene_coasts_with_the_camera_only():
    """The face's own velocity is measured with the camera motion removed, also when the earlier detection
    it is measured against lies farther back than the coast (the motion of those frames is kept)."""
    carry = TemporalCarry(CarryPolicy(lookahead=4, coast=4, max_gap=4, growth=0.0))
    pan = np.array([[1, 0, -10], [0, 1, 0], [0, 0, 1]], np.float64)
    for index in range(16):
        carry.moved(index, pan if index else IDENTITY)
        box = [300 - 10 * index, 100, 340 - 10 * index, 150]  # still in the scene: moves with the camera
        carry.observe(index, dets(box) if index in (4, 8) else Detections())
    boxes = {i: carry.resolve(i) for i in range(16)}
    np.testing.assert_allclose(boxes[12].boxes[0], [180, 100, 220, 150])


def test_duplicate_carried_boxes_are_merged():
    carry = TemporalCarry(CarryPolicy(lookahead=2, coast=2, max_gap=1, growth=0.0))
    carry.observe(0, dets([10, 10, 50, 60]))
    carry.observe(1, Detections())
    carry.observe(2, dets([11, 10, 51, 60], [10, 10, 50, 60]))  # two detections of one face in one frame
    for index in range(3, 6):
        carry.observe(index, Detections())
    carry.resolve(0), carry.resolve(1), carry.resolve(2)
    assert len(carry.resolve(3)) == 1


def test_frames_must_come_in_order():
    carry = TemporalCarry()
    carry.observe(3, Detections())
    with pytest.raises(ValueError, match="increase"):
        carry.observe(3, Detections())


def test_estimate_motion_recovers_a_pan_and_zoom():
    rng = np.random.default_rng(0)
    texture = cv2.resize(rng.integers(0, 255, (60, 80), dtype=np.uint8), (640, 480), interpolation=cv2.INTER_CUBIC)
    truth = np.array([[1.05, 0, -12], [0, 1.05, 7]], np.float64)
    moved = cv2.warpAffine(texture, truth, (640, 480))
    found = estimate_motion(texture[::2, ::2].copy(), moved[::2, ::2].copy(), scale=0.5)
    np.testing.assert_allclose(found[:2], truth, atol=0.6)
    np.testing.assert_allclose(warp_boxes(np.array([100, 100, 140, 160]), found)[0], [93, 112, 135, 175], atol=1.5)
    assert estimate_motion(np.zeros((50, 50), np.uint8), np.zeros((50, 50), np.uint8)) is None


def test_a_cut_is_told_from_camera_motion_and_from_a_blank_frame():
    rng = np.random.default_rng(0)
    texture = cv2.resize(rng.integers(0, 255, (60, 80), dtype=np.uint8), (320, 240), interpolation=cv2.INTER_CUBIC)
    panned = np.roll(texture, 6, axis=1)
    other = cv2.resize(rng.integers(0, 120, (30, 40), dtype=np.uint8), (320, 240), interpolation=cv2.INTER_CUBIC)
    motion, cut = frame_change(texture, panned)
    assert not cut and motion[0, 2] == pytest.approx(6, abs=0.5)
    motion, cut = frame_change(texture, other)
    assert cut and (motion == IDENTITY).all()
    blank = np.zeros((240, 320), np.uint8)
    assert frame_change(blank, blank)[1] is False  # no motion found, but the same picture: one shot


def test_nothing_is_carried_across_a_cut():
    """A face first found just after a cut is not carried back into the previous shot, one last seen just
    before it is not carried into the next, and a detection after the cut starts a new track."""
    carry = TemporalCarry(CarryPolicy(lookahead=4, coast=4, max_gap=4, growth=0.0))
    for index in range(16):
        carry.moved(index, IDENTITY, cut=index == 8)
        found = Detections()
        if index in (4, 6):
            found = dets([100, 100, 140, 150])
        elif index in (9, 10):
            found = dets([104, 100, 144, 150])  # where the old track would continue
        carry.observe(index, found)
    boxes = {i: carry.resolve(i) for i in range(16)}
    assert [i for i, b in boxes.items() if len(b)] == list(range(0, 15))
    assert [b.sources.tolist() for b in (boxes[7], boxes[8])] == [["track"], ["track"]]
    assert boxes[7].boxes[0][0] == 100 and boxes[8].boxes[0][0] == 104  # each from its own shot
    assert boxes[11].boxes[0][0] == 104  # coasted within the new shot


def test_interpolation_follows_a_zoom_that_is_not_uniform_between_detections():
    """A camera that zooms in frames 1-2 and then holds: linear interpolation of the two detections
    would lag the face; each end is moved with the camera first, so the box stays on it."""
    carry = TemporalCarry(CarryPolicy(lookahead=4, coast=0, max_gap=4, growth=0.0))
    zoom = np.diag([1.2, 1.2, 1.0])
    face = np.array([100, 100, 140, 150], np.float32)
    for index in range(10):
        carry.moved(index, zoom if index in (1, 2) else IDENTITY)
        if index == 0:
            carry.observe(index, dets(face))
        elif index == 4:
            carry.observe(index, dets(face * 1.44))
        else:
            carry.observe(index, Detections())
    found = [carry.resolve(i) for i in range(5)]
    assert found[2].sources.tolist() == ["interpolation"]
    np.testing.assert_allclose(found[2].boxes[0], face * 1.44, rtol=1e-5)
    np.testing.assert_allclose(found[1].boxes[0], face * 1.2, rtol=1e-5)


def test_interpolated_boxes_grow_with_the_distance_to_the_nearer_detection():
    carry = detected_at_0_and_4([0, 0, 40, 40], [0, 0, 40, 40], growth=0.1)
    widths = [carry.resolve(i).widths[0] for i in range(5)]
    assert widths[0] == widths[4] == 40
    assert 40 < widths[1] == widths[3] < widths[2]


def test_a_carried_box_follows_the_face_but_never_shrinks_with_it():
    """A box that shrinks between detections (a face cut by the frame edge, a loose detection) is carried
    with the motion of its centre at no less than its last size; a growing one keeps growing."""
    carry = TemporalCarry(CarryPolicy(lookahead=4, coast=4, max_gap=4, growth=0.0))
    for index in range(12):
        shrinking = [100 + 4 * index, 100, 180 - 4 * index, 180]  # centre still, narrowing 8 px a frame
        carry.observe(index, dets(shrinking) if index in (2, 6) else Detections())
    boxes = {i: carry.resolve(i) for i in range(12)}
    np.testing.assert_allclose(boxes[8].boxes[0], [124, 100, 156, 180])  # as at frame 6
    np.testing.assert_allclose(boxes[0].boxes[0], [100, 100, 180, 180])  # earlier, wider: grown back
    carry = TemporalCarry(CarryPolicy(lookahead=4, coast=4, max_gap=4, growth=0.0))
    for index in range(12):
        carry.observe(index, dets([100, 100, 140 + 2 * index, 140]) if index in (2, 6) else Detections())
    boxes = {i: carry.resolve(i) for i in range(12)}
    np.testing.assert_allclose(boxes[8].boxes[0], [100, 100, 156, 140])  # the right edge moves on 2 px a frame
