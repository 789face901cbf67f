"""Issue 5, point 4: veil keeps no copy of an original on disk. Its only temporary files are the atomic
outputs: private (0600) while written, beside their destination, holding redacted pixels only, and gone
after success and after failure."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from PIL import Image
from reliability_support import corpus_tool, decode_all, hidden

from veil.cli import main


def test_temporary_files_are_private_redacted_outputs_beside_their_destination(tmp_path, monkeypatch):
    source = tmp_path / "in"
    source.mkdir()
    Image.fromarray(corpus_tool.head()).save(source / "a.png")
    (source / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    kinds = {"a.png": "image"}
    try:
        import veil.video  # noqa: F401

        (source / "clip.mp4").write_bytes(corpus_tool.video_bytes("mp4"))
        kinds["clip.mp4"] = "video"
    except ImportError:
        pass
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "system-tmp"))  # anything left there would show
    (tmp_path / "system-tmp").mkdir()
    created, renamed = [], []
    real_open, real_replace = os.open, os.replace

    def spy_open(path, flags, *args, **kwargs):  # every file made through os.open, tempfile's included
        handle = real_open(path, flags, *args, **kwargs)
        if flags & os.O_CREAT:
            created.append((Path(path), stat.S_IMODE(os.fstat(handle).st_mode)))
        return handle

    def replace(src, dst):
        frames = decode_all(Path(src), kinds[Path(dst).name])
        faces = [[corpus_tool.FACE]] if kinds[Path(dst).name] == "image" else corpus_tool.video_frames(192, 224)[1]
        renamed.append((Path(src), Path(dst), all(hidden(f, b) for f, fs in zip(frames, faces) for b in fs)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "open", spy_open)
    monkeypatch.setattr(os, "replace", replace)
    out = tmp_path / "out"
    assert main([str(source), "-o", str(out), "--mode", "solid", "-q"]) == 1  # broken.png fails

    assert sorted(p.name for p in out.iterdir()) == sorted(kinds)  # nothing else, no leftover
    assert os.listdir(tmp_path / "system-tmp") == []
    assert len(created) == len(kinds)  # broken.png failed before writing
    for path, mode in created:
        assert path.parent == out and path.name.startswith(".") and ".veil-tmp" in path.name
        assert mode == 0o600
    assert sorted(dst.name for _, dst, _ in renamed) == sorted(kinds)
    assert all(redacted for _, _, redacted in renamed), "a temporary file held an unredacted face"
