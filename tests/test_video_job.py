"""veil.video.anonymize_video end to end, on generated clips of the astronaut's head."""

from __future__ import annotations

import os

import av
import cv2
import numpy as np
import pytest
from synthetic import detail
from video_clips import decode, moving_head, video_summary, write_clip

from veil.detections import Detections
from veil.errors import OutputError
from veil.pipeline import Anonymizer
from veil.video import Schedule, _blur_groups, anonymize_video, job_detector, redact_frame, restore_cut_faces, unrotate

FRAMES = 24
SPARSE = Schedule(fine_every=8, fast_side=0)  # detection on frames 0, 8, 16 and the last only: the rest is carried


def face_detail_ratio(before: np.ndarray, after: np.ndarray, box) -> float:
    x1, y1, x2, y2 = (round(v) for v in box)
    x1, x2 = max(0, x1), min(before.shape[1], x2)
    gray = [cv2.cvtColor(img[y1:y2, x1:x2], cv2.COLOR_RGB2GRAY) for img in (before, after)]
    return detail(gray[1]) / detail(gray[0])


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    frames, boxes = moving_head(FRAMES, enter=3)
    path = write_clip(tmp_path_factory.mktemp("job") / "in.mp4", frames, tags={"location": "+48.8577+002.2950/", "make": "Apple"})
    return path, boxes


def test_every_frame_is_redacted_including_those_before_the_first_detection(clip, tmp_path, anonymizer):
    src, boxes = clip
    out = tmp_path / "out.mp4"
    record = anonymize_video(src, out, anonymizer, schedule=SPARSE, progress=False, preset="ultrafast")
    before, after = decode(src), decode(out)
    assert len(after) == FRAMES
    for index, box in enumerate(boxes):
        if box is not None:
            assert face_detail_ratio(before[index], after[index], box) < 0.3, f"face visible in frame {index}"
    frames = record["frames"]
    assert [f["index"] for f in frames] == list(range(FRAMES))
    # the head enters at frame 3 and is first detected at frame 8: frames 3-7 are carried backwards
    assert {r["source"] for f in frames[3:8] for r in f["regions"]} <= {"track", "interpolation"}
    assert frames[8]["pass"] == "fine" and "detector" in {r["source"] for r in frames[8]["regions"]}
    assert {"interpolation"} <= {r["source"] for f in frames for r in f["regions"]}
    assert record["output_sha256"] and record["width"] == 320 and record["height"] == 240


def test_stream_is_kept_and_metadata_removed(clip, tmp_path, anonymizer):
    src, _ = clip
    out = tmp_path / "out.mp4"
    anonymize_video(src, out, anonymizer, progress=False, preset="ultrafast")
    before, after = video_summary(src), video_summary(out)
    assert after["times"] == before["times"]
    assert after["audio"] == before["audio"] and after["audio"]
    assert not {"location", "make"} & set(after["tags"])


def test_rotated_video_keeps_its_rotation_and_is_detected_upright(tmp_path, anonymizer):
    frames, boxes = moving_head(8, 320, 240)
    # stored turned a quarter clockwise; the display matrix turns it back for players
    src = write_clip(tmp_path / "rot.mov", frames, rotation=90, rgb_rotation=-1)
    out = tmp_path / "out.mov"
    record = anonymize_video(src, out, anonymizer, progress=False, preset="ultrafast")
    assert video_summary(out)["rotations"] == {90}
    assert all(f["regions"] for f in record["frames"])
    stored_before, stored_after = decode(src), decode(out)
    for index, box in enumerate(boxes):
        upright_before, upright_after = (np.rot90(img[index], 1) for img in (stored_before, stored_after))
        assert face_detail_ratio(upright_before, upright_after, box) < 0.3


def test_unrotate_maps_boxes_back_to_stored_pixels():
    stored = np.zeros((30, 50), np.uint8)
    stored[5:9, 20:27] = 1  # rows 5-8, columns 20-26
    for turns in range(4):
        upright = np.rot90(stored, turns)
        ys, xs = np.nonzero(upright)
        box = Detections(np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32), [1.0])
        np.testing.assert_allclose(unrotate(box, turns, 50, 30).boxes[0], [20, 5, 27, 9])


@pytest.mark.parametrize("error", [RuntimeError("model crashed"), KeyboardInterrupt()])
def test_a_failure_on_any_frame_leaves_no_output(clip, tmp_path, error, monkeypatch):
    src, _ = clip
    anonymizer = Anonymizer()
    calls = []
    detector_class = type(anonymizer.detector.detector)  # the job may run its own session of the model
    forward = detector_class.forward

    def failing(self, rgb, threshold):
        calls.append(1)
        if len(calls) == 5:
            raise error
        return forward(self, rgb, threshold)

    monkeypatch.setattr(detector_class, "forward", failing)
    out = tmp_path / "out.mp4"
    with pytest.raises(type(error)):
        anonymize_video(src, out, anonymizer, progress=False, preset="ultrafast")
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_write_over_its_input(clip, anonymizer):
    src, _ = clip
    with pytest.raises(OutputError, match="input"):
        anonymize_video(src, src, anonymizer, progress=False)


def test_manifest_does_not_depend_on_thread_timing(clip, tmp_path, anonymizer):
    src, _ = clip
    runs = [anonymize_video(src, tmp_path / f"out{i}.mp4", anonymizer, progress=False, preset="ultrafast")["frames"]
            for i in range(2)]
    assert runs[0] == runs[1]


def test_blur_in_yuv_planes_matches_the_rgb_path(anonymizer):
    """Blur on 4:2:0 is applied to the Y, U, V planes directly: the same regions as through RGB, face
    detail gone, and every sample outside the masks untouched."""
    frames, boxes = moving_head(1, 320, 240)
    original = av.VideoFrame.from_ndarray(frames[0], format="rgb24").reformat(format="yuv420p")
    face = Detections(np.asarray([boxes[0]], np.float32), [0.9])
    planes_before = [np.frombuffer(p, np.uint8).copy() for p in original.planes]
    rgb_before = original.to_ndarray(format="rgb24")
    yuv_frame, yuv_regions = redact_frame(anonymizer.redactor, original, face)
    via_rgb = av.VideoFrame.from_ndarray(frames[0], format="rgb24").reformat(format="yuv422p")  # goes through RGB
    _, rgb_regions = redact_frame(anonymizer.redactor, via_rgb, face)
    assert [r.box for r in yuv_regions] == [r.box for r in rgb_regions]
    after = yuv_frame.to_ndarray(format="rgb24")
    assert face_detail_ratio(rgb_before, after, boxes[0]) < 0.3
    x1, y1, x2, y2 = yuv_regions[0].box
    luma_before = planes_before[0].reshape(240, -1)[:, :320]
    luma_after = np.frombuffer(yuv_frame.planes[0], np.uint8).reshape(240, -1)[:, :320]
    outside = np.ones((240, 320), bool)
    outside[y1:y2, x1:x2] = False
    assert (luma_before[outside] == luma_after[outside]).all()


def test_a_crowd_is_blurred_in_groups_as_strongly_as_face_by_face(anonymizer):
    """Neighbouring faces share one blur (sigma rounded up): no face keeps more detail than the RGB
    path, which blurs face by face, leaves it."""
    rgb = np.random.default_rng(3).integers(0, 256, (240, 320, 3), dtype=np.uint8)  # all detail
    centres = [(x, y) for x in range(30, 300, 40) for y in range(30, 220, 45)]
    crowd = Detections(np.asarray([[x - 12, y - 15, x + 12, y + 15] for x, y in centres], np.float32), [0.9] * len(centres))
    grouped, regions = redact_frame(anonymizer.redactor, av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p"), crowd)
    one_by_one, _ = redact_frame(anonymizer.redactor, av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv422p"), crowd)
    assert len(regions) == len(centres)
    grouped, one_by_one = grouped.to_ndarray(format="rgb24"), one_by_one.to_ndarray(format="rgb24")
    for x, y in centres:
        inner = (x - 8, y - 10, x + 8, y + 10)
        assert face_detail_ratio(rgb, grouped, inner) < 0.2
        assert face_detail_ratio(rgb, grouped, inner) <= face_detail_ratio(rgb, one_by_one, inner) + 0.02


def test_given_sigmas_set_each_face_s_blur(anonymizer):
    """The job passes held sigmas (veil.redact.steady); a stronger sigma leaves less detail."""
    rgb = np.random.default_rng(4).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    face = Detections(np.asarray([[100, 80, 160, 150]], np.float32), [0.9])
    frames = [av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p") for _ in range(3)]
    default, _ = redact_frame(anonymizer.redactor, frames[0], face)
    same, _ = redact_frame(anonymizer.redactor, frames[1], face, np.array([0.25 * 60]))
    stronger, _ = redact_frame(anonymizer.redactor, frames[2], face, np.array([4 * 0.25 * 60]))
    default, same, stronger = (f.to_ndarray(format="rgb24") for f in (default, same, stronger))
    assert (default == same).all()
    inner = (115, 95, 145, 135)
    assert face_detail_ratio(rgb, stronger, inner) < face_detail_ratio(rgb, default, inner)
    with pytest.raises(ValueError, match="sigmas"):
        redact_frame(anonymizer.redactor, frames[0], face, np.array([]))


def test_faces_cut_by_the_frame_edge_are_restored_to_whole_faces():
    found = Detections(np.array([[0, 100, 20, 180], [300, 100, 364, 180], [600, 0, 664, 30], [200, 200, 264, 280]],
                                np.float32), [0.9] * 4)
    restored = restore_cut_faces(found, 640, 480).boxes
    np.testing.assert_allclose(restored[0], [20 - 64, 100, 20, 180])  # left edge: 64 = 0.8 x 80 wide
    np.testing.assert_allclose(restored[1], [300, 100, 364, 180])  # narrow enough, not on an edge: kept
    np.testing.assert_allclose(restored[2], [600, 30 - 80, 664, 30])  # top edge: 80 = 64 / 0.8 tall
    np.testing.assert_allclose(restored[3], [200, 200, 264, 280])


def test_detected_and_carried_boxes_get_their_own_margins():
    boxes = Detections(np.array([[0, 0, 100, 100]] * 3, np.float32), [0.9] * 3, ["detector", "track", "interpolation"])
    widened = Schedule(detected_margin=1.1, carried_margin=1.3).widened(boxes)
    np.testing.assert_allclose(widened.widths, [110, 130, 130])
    np.testing.assert_allclose((widened.boxes[:, 0] + widened.boxes[:, 2]) / 2, [50, 50, 50])
    with pytest.raises(ValueError, match="margins"):
        Schedule(carried_margin=0.9)
    default = Schedule().widened(boxes)  # one margin for every source: a face's ellipse keeps its size
    assert len(set(default.widths.round(3))) == 1


def test_weak_boxes_get_at_least_the_weak_margin():
    boxes = Detections(np.array([[0, 0, 100, 100]] * 4, np.float32), [0.9, 0.2, 0.2, 0.2],
                       ["detector", "detector", "track", "interpolation"])
    widened = Schedule(detected_margin=1.3, carried_margin=1.3, weak_score=0.3, weak_margin=1.5).widened(boxes)
    np.testing.assert_allclose(widened.widths, [130, 150, 150, 150])
    np.testing.assert_allclose((widened.boxes[:, 1] + widened.boxes[:, 3]) / 2, [50] * 4)
    wider = Schedule(detected_margin=1.6, weak_margin=1.4).widened(boxes[:2])  # never narrower than its source's margin
    np.testing.assert_allclose(wider.widths, [160, 160])
    with pytest.raises(ValueError, match="margins"):
        Schedule(weak_margin=0.9)


def test_the_job_runs_onnxruntime_on_at_most_half_the_cores():
    anonymizer = Anonymizer(threads=8)
    detector = job_detector(anonymizer)
    threads = detector.session.get_session_options().intra_op_num_threads
    assert threads == max(1, (os.cpu_count() or 1) // 2)
    assert detector.model.sha256 == anonymizer.model.sha256
    single = Anonymizer(threads=1)
    assert job_detector(single) is single.detector.detector


def test_fine_frames_also_get_the_coarse_global_pass(tmp_path, monkeypatch):
    """A face that the detector sees only on the frame shrunk to ``global_side`` (large, blurry or partly
    hidden faces do this) is found on fine-pass frames, counts at the anonymizer's threshold and is
    redacted in every frame, with the fast passes off."""
    frames, boxes = moving_head(FRAMES, 1280, 720, face_height=200)
    src = write_clip(tmp_path / "in.mp4", frames)
    anonymizer = Anonymizer()
    detector_class = type(anonymizer.detector.detector)
    sizes = []
    fine = [i for i in range(FRAMES) if SPARSE.pass_for(i, last=i == FRAMES - 1) == "fine"]
    assert fine == [0, 8, 16, FRAMES - 1]  # the last frame of the shot too

    def coarse_only(self, rgb, threshold):
        height, width = rgb.shape[:2]
        sizes.append((width, height))
        if width > 640:
            return Detections()
        index = len([s for s in sizes if s[0] <= 640]) - 1  # fine frames in order
        face = np.asarray(boxes[fine[index]], np.float32) * width / 1280
        return Detections(face[None], [0.2])

    monkeypatch.setattr(detector_class, "forward", coarse_only)
    out = tmp_path / "out.mp4"
    record = anonymize_video(src, out, anonymizer, schedule=SPARSE, progress=False, preset="ultrafast")
    assert sorted(set(sizes)) == [(640, 360), (1280, 720)]
    assert len(sizes) == 2 * len(fine)  # two passes on each fine frame, none on the others
    before, after = decode(src), decode(out)
    for index, box in enumerate(boxes):
        assert face_detail_ratio(before[index], after[index], box) < 0.3, f"face visible in frame {index}"
    assert record["frames"][8]["regions"][0]["source"] == "detector"


@pytest.mark.parametrize("fast_threshold, redacted", [(0.0, True), (0.3, False)])
def test_weak_fast_pass_detections_count_unless_a_fast_threshold_is_set(tmp_path, monkeypatch, fast_threshold, redacted):
    """A face seen only weakly and only by the fast passes (a head turned away) starts a track and is
    redacted by default; a ``fast_threshold`` above its score drops it, as no track continues it."""
    frames, boxes = moving_head(FRAMES, 1280, 720, face_height=200)
    src = write_clip(tmp_path / "in.mp4", frames)
    anonymizer = Anonymizer()
    schedule = Schedule(fine_every=8, fast_every=2, global_side=0, fast_threshold=fast_threshold)
    fast = [i for i in range(FRAMES) if schedule.pass_for(i, last=i == FRAMES - 1) == "fast"]
    seen = []

    def fast_pass_only(self, rgb, threshold):
        if rgb.shape[1] > 640:
            return Detections()
        seen.append(fast[len(seen)])  # the detector runs its jobs in frame order
        return Detections(np.asarray(boxes[seen[-1]], np.float32)[None] * rgb.shape[1] / 1280, [0.2])

    monkeypatch.setattr(type(anonymizer.detector.detector), "forward", fast_pass_only)
    record = anonymize_video(src, tmp_path / "out.mp4", anonymizer, schedule=schedule, progress=False, preset="ultrafast")
    assert seen == fast
    assert all(bool(f["regions"]) == redacted for f in record["frames"] if f["pass"] == "fast")


def test_fine_passes_start_again_at_each_cut_and_end_each_shot():
    schedule = Schedule(fine_every=8, fast_every=2)
    assert [schedule.pass_for(p) for p in range(9)] == ["fine", None, "fast", None, "fast", None, "fast", None, "fine"]
    assert schedule.pass_for(4, last=True) == "fine"  # half the interval since the last fine pass
    assert schedule.pass_for(3, last=True) is None  # the fine pass 3 frames back is near enough


def test_a_cut_restarts_the_schedule_and_the_shot_before_it_ends_with_a_fine_pass(tmp_path, anonymizer):
    first, _ = moving_head(13)
    rng = np.random.default_rng(7)
    other = cv2.resize(rng.integers(0, 60, (31, 41, 3), dtype=np.uint8), (320, 240), interpolation=cv2.INTER_NEAREST)
    src = write_clip(tmp_path / "cut.mp4", first + [other] * 11)  # a dark, unrelated shot from frame 13
    record = anonymize_video(src, tmp_path / "out.mp4", anonymizer, schedule=SPARSE, progress=False, preset="ultrafast")
    fine = [f["index"] for f in record["frames"] if f["pass"] == "fine"]
    assert fine == [0, 8, 12, 13, 21]


def test_blur_groups_are_the_connected_faces_and_sparse_chains_are_split():
    crops = np.array([[0, 0, 10, 10], [12, 0, 22, 10], [24, 0, 34, 10],  # a chain: each touches the next
                      [100, 100, 110, 110], [300, 0, 310, 10]], np.int64)
    groups = sorted(sorted(g.tolist()) for g in _blur_groups(crops, 2))
    assert groups == [[0, 1, 2], [3], [4]]
    diagonal = np.array([[k * 11, k * 11, k * 11 + 10, k * 11 + 10] for k in range(6)], np.int64)  # sparse box
    assert sorted(g.tolist() for g in _blur_groups(diagonal, 1)) == [[k] for k in range(6)]
