"""veil.video.anonymize_video end to end, on generated clips of the astronaut's head."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from synthetic import detail
from video_clips import decode, moving_head, video_summary, write_clip

from veil.detections import Detections
from veil.errors import OutputError
from veil.pipeline import Anonymizer
from veil.video import Schedule, anonymize_video, unrotate

FRAMES = 24
SPARSE = Schedule(fine_every=8, fast_side=0)  # detection on frames 0, 8, 16 only: the rest is carried


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
def test_a_failure_on_any_frame_leaves_no_output(clip, tmp_path, error):
    src, _ = clip
    anonymizer = Anonymizer()
    calls = []
    forward = anonymizer.detector.detector.forward

    def failing(rgb, threshold):
        calls.append(1)
        if len(calls) == 5:
            raise error
        return forward(rgb, threshold)

    anonymizer.detector.detector.forward = failing
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
