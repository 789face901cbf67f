"""Issue 5, point 2: SIGINT, SIGTERM and SIGKILL in the middle of a write leave no partial output, and a
re-run completes. Each test signals a real ``veil`` process at the moment a temporary file is being written."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from reliability_support import VEIL, corpus_tool, decode_all, hidden, leftovers
from synthetic import synthetic_crowd

IMAGES = 4


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    """Noisy 800x600 crowds, so that each PNG takes a while to encode; and the face boxes of each."""
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(5)
    faces = {}
    for index in range(IMAGES):
        rgb, boxes = synthetic_crowd([60, 90], width=800, height=600, seed=index)
        rgb = np.clip(rgb.astype(np.int16) + rng.integers(-20, 20, rgb.shape), 0, 255).astype(np.uint8)
        Image.fromarray(rgb).save(folder / f"crowd{index}.png", compress_level=1)
        faces[f"crowd{index}.png"] = boxes
    return folder, faces


def _start(source: Path, output: Path) -> subprocess.Popen:
    return subprocess.Popen([*VEIL, str(source), "-o", str(output), "--mode", "solid", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _signal_while_writing(process: subprocess.Popen, output: Path, sig: int, *, after_outputs: int,
                          delay: float = 0.0) -> None:
    """Send ``sig`` as soon as a temporary file exists beside ``after_outputs`` finished outputs."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        names = os.listdir(output) if output.is_dir() else []
        if any(".veil-tmp" in n for n in names) and sum(not n.startswith(".") for n in names) >= after_outputs:
            time.sleep(delay)
            process.send_signal(sig)
            return
        time.sleep(0.001)
    pytest.fail(f"veil finished or stalled before writing; stderr: {process.stderr.read() if process.stderr else ''}")


def _check_complete_and_anonymized(output: Path, faces: dict[str, np.ndarray]) -> list[str]:
    present = sorted(p.name for p in output.iterdir() if not p.name.startswith("."))
    for name in present:
        (frame,) = decode_all(output / name, "image")  # raises if the file is partial
        assert all(hidden(frame, box) for box in faces[name]), f"{name} shows a face"
    return present


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_leaves_only_complete_outputs(photos, tmp_path, sig):
    source, faces = photos
    output = tmp_path / "out"
    process = _start(source, output)
    _signal_while_writing(process, output, sig, after_outputs=1)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted; no partial output was left" in stderr
    assert not leftovers(output)
    assert 1 <= len(_check_complete_and_anonymized(output, faces)) < IMAGES


def test_kill_leaves_at_most_a_hidden_temporary_file_which_the_rerun_removes(photos, tmp_path):
    source, faces = photos
    output = tmp_path / "out"
    process = _start(source, output)
    _signal_while_writing(process, output, signal.SIGKILL, after_outputs=1)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert all(name.startswith(".") and ".veil-tmp" in name for name in leftovers(output))
    assert leftovers(output), "SIGKILL came during a write: its temporary file is left"
    assert 1 <= len(_check_complete_and_anonymized(output, faces)) < IMAGES

    rerun = _start(source, output)
    _, stderr = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, stderr
    assert not leftovers(output)  # the killed run's temporary file is gone
    assert len(_check_complete_and_anonymized(output, faces)) == IMAGES


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    pytest.importorskip("veil.video", reason="video anonymization (veil.video) is not there yet")
    import av

    path = tmp_path_factory.mktemp("video") / "long.mp4"
    head = corpus_tool.head()
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.codec_context.options = {"preset": "ultrafast"}
        for index in range(600):  # long enough that veil is still writing 0.5 s after it starts, however fast
            rgb = np.full((240, 320, 3), 90, np.uint8)
            x = index % 140
            rgb[12:228, x : x + 180] = head
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_video_interrupted_mid_stream_leaves_nothing(long_clip, tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    process = _start(long_clip, output / "long.mp4")
    _signal_while_writing(process, output, signal.SIGTERM, after_outputs=0, delay=0.5)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert os.listdir(output) == []
