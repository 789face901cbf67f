"""Video container I/O with PyAV: decode the picture, re-encode it, copy every audio packet untouched.

Metadata policy. Kept: audio streams (packet for packet, unless dropped on request), each frame's
timestamp (so variable frame rate stays variable), the frame rate, the display matrix (rotation and
flips), the pixel aspect ratio, colour properties and each kept stream's language tag. Removed: all
container metadata (GPS such as mp4/mov ``©xyz``/``location``, make, model, serial numbers,
``creation_time``, titles, comments), all other stream tags, chapters, subtitle, data and attachment
streams (cover art included: it may be a face), extra video streams, and user-data SEI from the
input bitstream (the picture is re-encoded from decoded pixels).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from veil.errors import InvalidInputError, OutputError, UnsupportedInputError

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
# Codec name -> encoders to try in order; the first one this PyAV build has is used.
ENCODERS = {
    "h264": ("libx264",),
    "h265": ("libx265",),
    "hevc": ("libx265",),
    "vp9": ("libvpx-vp9",),
    "av1": ("libsvtav1", "libaom-av1"),
}
DEFAULT_CRF = {"libx264": 23, "libx265": 28, "libvpx-vp9": 32, "libsvtav1": 35, "libaom-av1": 35}
KEPT_STREAM_TAGS = ("language",)
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")


@dataclass(frozen=True)
class VideoInfo:
    """What veil needs to know about the input's picture stream before decoding it."""

    width: int
    height: int
    pix_fmt: str
    time_base: Fraction
    rate: Fraction  # average frame rate (nominal for variable-rate input)
    frames: int  # the container's count, or an estimate from the duration; 0 when unknown
    audio_streams: int


@dataclass
class SourceFrame:
    """One decoded picture and the audio packets the demuxer read since the previous picture."""

    index: int
    frame: av.VideoFrame
    audio: list[av.Packet]


class VideoSource:
    """Demuxes and decodes the first real video stream of a file; audio packets travel alongside."""

    def __init__(self, path: Path, *, audio: bool = True):
        self.path = Path(path)
        try:
            self.container = av.open(str(self.path), metadata_errors="ignore")
        except (av.FFmpegError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"{self.path}: not a readable video file ({_reason(exc)})") from None
        streams = [s for s in self.container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
        if not streams:
            self.container.close()
            raise UnsupportedInputError(f"{self.path}: no video stream")
        self.video = streams[0]
        if self.video.codec_context is None:
            self.container.close()
            raise UnsupportedInputError(f"{self.path}: no decoder for this video codec")
        self.video.thread_type = "AUTO"
        self.audio = list(self.container.streams.audio) if audio else []
        self.trailing_audio: list[av.Packet] = []  # audio read after the last picture, set by frames()
        ctx = self.video.codec_context
        rate = self.video.average_rate or self.video.guessed_rate or Fraction(25)
        frames = self.video.frames
        self.declared_frames = frames  # the container's own count (0 when it has none), checked at the end
        self.declared_seconds = _declared_seconds(self.video)
        if self.declared_seconds is None and len(self.container.streams) == 1 and self.container.duration:
            self.declared_seconds = self.container.duration / av.time_base  # the file's duration is the video's
        if not frames and self.video.duration and self.video.time_base:
            frames = round(float(self.video.duration * self.video.time_base * rate))
        elif not frames and self.container.duration:
            frames = round(self.container.duration / av.time_base * float(rate))
        self.info = VideoInfo(
            width=ctx.width,
            height=ctx.height,
            pix_fmt=ctx.pix_fmt or "yuv420p",
            time_base=self.video.time_base,
            rate=Fraction(rate),
            frames=int(frames or 0),
            audio_streams=len(self.audio),
        )

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.container.close()

    def frames(self) -> Iterator[SourceFrame]:
        """Pictures in presentation order, each with the audio packets read before it."""
        index = 0
        audio: list[av.Packet] = []
        last_pts: int | None = None
        end_pts = 0  # the latest end of a picture (its time plus its duration; times may go back and forth)
        try:
            for packet in self.container.demux([self.video, *self.audio]):
                if packet.stream is not self.video:
                    if packet.dts is not None:  # the demuxer's flush packets carry no data
                        audio.append(packet)
                    continue
                for frame in packet.decode():
                    if frame.is_corrupt:
                        raise InvalidInputError(f"{self.path}: corrupt or truncated video: damaged picture data at frame {index}")
                    if frame.pts is None:  # some AVI/raw streams: count from the previous picture
                        frame.pts = 0 if last_pts is None else last_pts + _frame_ticks(self.info)
                    last_pts = frame.pts
                    end_pts = max(end_pts, frame.pts + (frame.duration or _frame_ticks(self.info)))
                    yield SourceFrame(index, frame, audio)
                    index += 1
                    audio = []
        except av.FFmpegError as exc:
            raise InvalidInputError(f"{self.path}: corrupt or truncated video at frame {index} ({_reason(exc)})") from None
        if index == 0:
            raise InvalidInputError(f"{self.path}: the video stream holds no decodable picture")
        self._check_complete(index, end_pts)
        self.trailing_audio = audio

    def _check_complete(self, count: int, end_pts: int) -> None:
        """Refuse a file that ends before its header says it does (a cut download or copy)."""
        if self.declared_frames and count < self.declared_frames:
            raise InvalidInputError(f"{self.path}: corrupt or truncated video: {count} of {self.declared_frames} frames decodable")
        if self.declared_seconds:
            frame_seconds = float(1 / self.info.rate)
            shown = float((end_pts - (self.video.start_time or 0)) * self.info.time_base)
            if shown < self.declared_seconds - 2 * frame_seconds:
                raise InvalidInputError(f"{self.path}: corrupt or truncated video: pictures end at {shown:.2f} s "
                                        f"of the {self.declared_seconds:.2f} s the header declares")

    def display_matrix(self, first: av.VideoFrame) -> list[int] | None:
        """The 3x3 display matrix (FFmpeg layout) of the stream, as decoders attach it to each frame."""
        side = first.side_data.get(av.sidedata.sidedata.Type.DISPLAYMATRIX)  # a Mapping since PyAV 18.1
        return None if side is None else np.frombuffer(bytes(side), np.int32).tolist()


class VideoSink:
    """Encodes pictures and muxes them with copied audio packets; no metadata of the input is copied."""

    def __init__(self, path: Path, source: VideoSource, first: av.VideoFrame, *, codec: str = "h264",
                 crf: int | None = None, preset: str | None = None, container_format: str | None = None,
                 label: Path | None = None):
        self.path = Path(path)
        self.label = label or self.path  # the name errors give: the destination, not a temporary file
        fmt = container_format or container_for(self.path)
        encoder = encoder_for(codec)
        try:
            self.container = av.open(str(self.path), "w", format=fmt)
        except av.FFmpegError as exc:
            raise OutputError(f"{self.label}: cannot create the output ({_reason(exc)})") from None
        supported = self.container.supported_codecs
        if encoder not in supported:
            self.container.close()
            raise OutputError(f"{fmt} files cannot hold {codec} video; choose another codec or file extension")
        info = source.info
        self.video = self.container.add_stream(encoder, rate=info.rate)
        ctx = self.video.codec_context
        ctx.width, ctx.height = info.width, info.height
        ctx.pix_fmt = self.pix_fmt = _output_pix_fmt(encoder, info.pix_fmt, info.width, info.height)
        ctx.time_base = info.time_base
        self.video.time_base = info.time_base
        src_ctx = source.video.codec_context
        for attr in ("color_range", "color_primaries", "color_trc", "colorspace"):
            setattr(ctx, attr, getattr(src_ctx, attr))
        if source.video.sample_aspect_ratio:
            ctx.sample_aspect_ratio = source.video.sample_aspect_ratio
        ctx.options = _encoder_options(encoder, crf, preset)
        # Frame and slice threads, as the ffmpeg command line uses (PyAV's default is slice threads
        # only, which for x264 means sliced threads: more CPU per frame and a lower quality per bit).
        ctx.thread_type = "AUTO"
        matrix = source.display_matrix(first)
        if matrix is not None:
            self.video.set_display_matrix(matrix)
        _copy_tags(source.video, self.video)

        self.audio: dict[int, av.stream.Stream] = {}
        for stream in source.audio:
            if stream.codec_context.name not in supported:
                self.container.close()
                raise OutputError(
                    f"{fmt} files cannot hold the input's {stream.codec_context.name} audio; "
                    "use another file extension (e.g. .mkv) or drop the audio"
                )
            out = self.container.add_stream_from_template(stream)
            _copy_tags(stream, out)
            self.audio[stream.index] = out

    def write(self, frame: av.VideoFrame, audio: list[av.Packet] = ()) -> None:
        for packet in audio:
            self._mux_audio(packet)
        frame.pict_type = av.video.frame.PictureType.NONE  # let the encoder choose its own GOP
        self._mux(self._encode(frame))

    def finish(self, audio: list[av.Packet] = ()) -> None:
        """Flush the encoder, write the remaining audio and the trailer."""
        self._mux(self._encode(None))
        for packet in audio:
            self._mux_audio(packet)
        self.close()

    def close(self) -> None:
        self.container.close()

    def _encode(self, frame: av.VideoFrame | None) -> list[av.Packet]:
        try:
            return self.video.encode(frame)
        except av.FFmpegError as exc:
            raise OutputError(f"{self.label}: encoding failed ({_reason(exc)})") from None

    def _mux_audio(self, packet: av.Packet) -> None:
        packet.stream = self.audio[packet.stream_index]
        self._mux([packet])

    def _mux(self, packets) -> None:
        try:
            self.container.mux(packets)
        except av.FFmpegError as exc:
            raise OutputError(f"{self.label}: writing failed ({_reason(exc)})") from None


def _declared_seconds(stream: av.video.stream.VideoStream) -> float | None:
    """The video stream's own duration from the header (Matroska keeps it as a ``DURATION`` tag)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    try:
        hours, minutes, seconds = tag.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except (AttributeError, ValueError):
        return None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def container_for(path: Path) -> str:
    try:
        return CONTAINERS[Path(path).suffix.lower()]
    except KeyError:
        raise OutputError(f"{path}: unsupported video extension; use one of {', '.join(CONTAINERS)}") from None


def encoder_for(codec: str) -> str:
    names = ENCODERS.get(codec.lower())
    if names is None:
        raise OutputError(f"unknown video codec {codec!r}; choose one of {', '.join(ENCODERS)}")
    for name in names:
        try:
            av.codec.Codec(name, "w")
            return name
        except av.codec.codec.UnknownCodecError:
            continue
    raise OutputError(f"this PyAV build has no {codec} encoder ({', '.join(names)})")


def _encoder_options(encoder: str, crf: int | None, preset: str | None) -> dict[str, str]:
    """Encoder options; ``preset`` takes x264's names for every codec (mapped to each one's speed scale)."""
    options = {"crf": str(DEFAULT_CRF[encoder] if crf is None else crf)}
    preset = preset or "medium"
    if preset not in X264_PRESETS:
        raise OutputError(f"unknown preset {preset!r}; choose one of {', '.join(X264_PRESETS)}")
    speed = X264_PRESETS.index(preset)  # 0 fastest .. 9 slowest
    if encoder in ("libx264", "libx265"):
        options["preset"] = preset
    elif encoder == "libvpx-vp9":
        options.update({"b": "0", "row-mt": "1", "deadline": "good", "cpu-used": str(max(0, 8 - speed))})
    elif encoder == "libsvtav1":
        options["preset"] = str(max(2, 12 - speed))
    elif encoder == "libaom-av1":
        options["cpu-used"] = str(max(0, 8 - speed))
    if encoder == "libx265":
        options["x265-params"] = "log-level=error"
    return options


def _output_pix_fmt(encoder: str, pix_fmt: str, width: int, height: int) -> str:
    """The input's pixel format when the encoder takes it, else 4:2:0, or 4:4:4 for odd sizes (4:2:0
    needs even ones and veil keeps the picture size)."""
    supported = {f.name for f in (av.codec.Codec(encoder, "w").video_formats or ())}
    if pix_fmt in supported and not (_subsampled(pix_fmt) and (width % 2 or height % 2)):
        return pix_fmt
    if width % 2 or height % 2:
        if "yuv444p" not in supported:
            raise OutputError(f"{encoder} cannot encode an odd picture size ({width}x{height}); use codec h264")
        return "yuv444p"
    return "yuv420p"


def _subsampled(pix_fmt: str) -> bool:
    fmt = av.video.format.VideoFormat(pix_fmt, 64, 64)
    return any(c.width < 64 or c.height < 64 for c in fmt.components)


def _copy_tags(source: av.stream.Stream, target: av.stream.Stream) -> None:
    for key in KEPT_STREAM_TAGS:
        if key in source.metadata:
            target.metadata[key] = source.metadata[key]


def _frame_ticks(info: VideoInfo) -> int:
    return max(1, round(1 / (info.rate * info.time_base)))


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
