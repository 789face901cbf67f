"""veil.media.video: what a re-encode keeps (timestamps, audio packets, rotation) and what it removes."""

from __future__ import annotations

import subprocess

import av
import numpy as np
import pytest
from video_clips import moving_head, video_summary, write_clip

from veil.errors import InvalidInputError, OutputError
from veil.media.atomic import atomic_output
from veil.media.video import VideoSink, VideoSource

IDENTIFYING = {"location": "+48.8577+002.2950/", "make": "Apple", "model": "iPhone 15", "creation_time": "2024-05-01T10:00:00Z",
               "com.apple.quicktime.location.ISO6709": "+48.8577+002.2950/", "title": "Alice at home"}


def transcode(src, dst, **options) -> None:
    """Decode and re-encode without touching the pixels, the way the video job does."""
    with VideoSource(src, audio=options.pop("audio", True)) as source, atomic_output(dst) as temporary:
        sink = None
        for item in source.frames():
            sink = sink or VideoSink(temporary, source, item.frame, preset="ultrafast", **options)
            sink.write(item.frame, item.audio)
        sink.finish(source.trailing_audio)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    frames, _ = moving_head(10, 160, 120, face_height=40)
    pts = [0, 40, 80, 200, 240, 260, 300, 400, 440, 480]  # variable frame rate
    return write_clip(tmp_path_factory.mktemp("io") / "in.mov", frames, pts=pts, rotation=90, tags=IDENTIFYING,
                      stream_tags={"language": "fra", "title": "Alice"})


def test_reencode_keeps_timestamps_audio_and_rotation(clip, tmp_path):
    out = tmp_path / "out.mov"
    transcode(clip, out)
    before, after = video_summary(clip), video_summary(out)
    assert after["times"] == before["times"]  # variable frame rate stays variable
    assert after["audio"] == before["audio"] and len(after["audio"]) > 5  # packet for packet
    assert before["rotations"] == after["rotations"] == {90}


def test_reencode_removes_identifying_metadata(clip, tmp_path):
    out = tmp_path / "out.mov"
    transcode(clip, out)
    after = video_summary(out)
    assert "location" in video_summary(clip)["tags"]  # the input really had them
    assert not set(after["tags"]) & {*IDENTIFYING, "location-eng"}
    assert after["stream_tags"].get("language") == "fra"
    assert "title" not in after["stream_tags"]
    assert b"48.8577" not in out.read_bytes()


def test_audio_can_be_dropped(clip, tmp_path):
    out = tmp_path / "out.mp4"
    transcode(clip, out, audio=False)
    assert video_summary(out)["streams"] == ["video"]


def test_subtitle_and_data_streams_are_dropped(clip, tmp_path):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    srt = tmp_path / "names.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:00,400\nAlice Smith, 12 Elm Street\n")
    with_subs = tmp_path / "subs.mkv"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(clip), "-i", str(srt), "-map", "0", "-map", "1",
                    "-c", "copy", str(with_subs)], check=True)
    assert "subtitle" in video_summary(with_subs)["streams"]
    out = tmp_path / "out.mkv"
    transcode(with_subs, out)
    assert video_summary(out)["streams"] == ["video", "audio"]
    assert b"Elm Street" not in out.read_bytes()


def test_odd_picture_size_is_kept(tmp_path):
    frames, _ = moving_head(3, 161, 121, face_height=40)
    src = tmp_path / "odd.mkv"
    with av.open(str(src), "w") as container:  # FFV1 takes odd 4:2:0, libx264 does not
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 161, 121, "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    out = tmp_path / "out.mp4"
    transcode(src, out)
    with av.open(str(out)) as container:
        assert (container.streams.video[0].width, container.streams.video[0].height) == (161, 121)


def test_truncated_file_is_refused(clip, tmp_path):
    frames, _ = moving_head(12, 160, 120, face_height=40)
    whole = write_clip(tmp_path / "whole.mkv", frames, audio=False)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 6 // 10])
    with pytest.raises(InvalidInputError, match="truncated"):
        transcode(cut, tmp_path / "out.mkv")
    assert not (tmp_path / "out.mkv").exists()


@pytest.mark.parametrize("name, codec, message", [("out.xyz", "h264", "extension"), ("out.webm", "h264", "cannot hold"),
                                                   ("out.mp4", "mpeg2", "unknown video codec")])
def test_impossible_outputs_are_refused(clip, tmp_path, name, codec, message):
    with pytest.raises(OutputError, match=message):
        transcode(clip, tmp_path / name, codec=codec)
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_leaves_nothing_on_error(tmp_path):
    dst = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt), atomic_output(dst) as temporary:
        assert temporary.parent == tmp_path and temporary.name.startswith(".")
        temporary.write_bytes(b"partial")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_vp9_in_webm(clip, tmp_path):
    out = tmp_path / "out.webm"
    transcode(clip, out, codec="vp9", audio=False)
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == "vp9"
        assert np.isclose(float(container.streams.video[0].average_rate or 25), 25, atol=15)


def test_output_gets_the_permissions_of_a_normal_new_file(clip, tmp_path):
    out = tmp_path / "out.mp4"
    transcode(clip, out)
    reference = tmp_path / "reference"
    reference.write_bytes(b"")
    assert out.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777


def test_encoder_uses_frame_threads_as_the_ffmpeg_command_line_does(clip, tmp_path):
    """PyAV's default is slice threads only; x264 then runs sliced threads (more CPU per frame)."""
    with VideoSource(clip) as source:
        first = next(source.frames())
        sink = VideoSink(tmp_path / "out.mp4", source, first.frame, preset="ultrafast")
        try:
            assert sink.video.codec_context.thread_type & av.codec.context.ThreadType.FRAME
        finally:
            sink.close()
