"""Issue 5, point 3: a detector (or redactor) that fails or hangs on one frame never lets that frame out
unredacted: the file fails as a whole, and the other files go on."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from reliability_support import corpus_tool, decode_all, hidden, leftovers

from veil.cli import main
from veil.detect.centerface import CenterFace
from veil.redact import Redactor


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        Image.fromarray(corpus_tool.head()).save(folder / name)
    return folder


@pytest.fixture
def clip(tmp_path) -> Path:
    pytest.importorskip("veil.video", reason="video anonymization (veil.video) is not there yet")
    path = tmp_path / "in" / "clip.mp4"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(corpus_tool.video_bytes("mp4"))
    return path


def _fail_on_call(monkeypatch, cls, name: str, call: int) -> None:
    """Make ``cls.name`` raise on its ``call``-th call (counted from 1) and work otherwise."""
    real, calls = getattr(cls, name), []

    def faulty(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise RuntimeError(f"injected fault in {name}")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, faulty)


@pytest.mark.parametrize(("cls", "name"), [(CenterFace, "forward"), (Redactor, "apply")], ids=["detector", "redactor"])
def test_a_fault_on_one_photo_fails_that_photo_only(photos, tmp_path, monkeypatch, capsys, cls, name):
    # b.png is the second file; CenterFace runs once per image this small, the redactor once per image.
    _fail_on_call(monkeypatch, cls, name, call=2)
    out = tmp_path / "out"
    assert main([str(photos), "-o", str(out), "--mode", "solid", "-q"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line == f"veil: {photos / 'b.png'}: RuntimeError: injected fault in {name}"
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "c.png"]
    for written in out.iterdir():
        (frame,) = decode_all(written, "image")
        assert hidden(frame, corpus_tool.FACE)


@pytest.mark.parametrize(("cls", "name", "call"), [(CenterFace, "forward", 6), (Redactor, "apply", 7)],
                         ids=["detector", "redactor"])
def test_a_fault_on_one_video_frame_fails_the_whole_video(clip, tmp_path, monkeypatch, capsys, cls, name, call):
    _fail_on_call(monkeypatch, cls, name, call=call)  # some frames in: the output file is already open
    out = tmp_path / "out"
    assert main([str(clip), "-o", str(out / "clip.mp4"), "--mode", "solid", "-q"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line == f"veil: {clip}: RuntimeError: injected fault in {name}"
    assert list(out.iterdir()) == []


HANG = """
import sys, threading
from veil.detect.centerface import CenterFace
real, calls = CenterFace.forward, []
def forward(self, *args):
    calls.append(1)
    if len(calls) == int(sys.argv[1]):
        threading.Event().wait()  # a detector that never returns
    return real(self, *args)
CenterFace.forward = forward
from veil.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _run_until(args: list[str], ready, timeout: float = 120) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HANG, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.01)
    time.sleep(0.5)  # well into the hang
    return process


def test_a_hung_detector_holds_its_photo_until_a_signal_ends_the_run(photos, tmp_path):
    """No per-image timeout: a hang keeps its file unwritten, and SIGTERM ends the run cleanly."""
    out = tmp_path / "out"
    process = _run_until(["2", str(photos), "-o", str(out), "--mode", "solid", "-q"], (out / "a.png").exists)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.png"]


def test_a_hung_detector_holds_its_video_until_a_signal_ends_the_run(clip, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    process = _run_until(["6", str(clip), "-o", str(out / "clip.mp4"), "--mode", "solid", "-q"],
                         lambda: bool(leftovers(out)))  # the temporary output is open
    process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        assert "interrupted; no partial output was left" in stderr and list(out.iterdir()) == []
        pytest.xfail("video: after the interrupt, Python's exit waits for the hung detection thread "
                     "(a ThreadPoolExecutor worker); the output is already clean, but the process does not end")
    assert process.returncode == 130, stderr
    assert list(out.iterdir()) == []
