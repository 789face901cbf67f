"""The audit works on frames: a photo is one frame (index 0), a video is sampled at a fixed rate."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from veil.jobs import VIDEO_EXTENSIONS
from veil.media.image import load_image



@dataclass(frozen=True)
class Frame:
    index: int  # frame number in the file (0 for a photo)
    time: float | None  # presentation time in seconds (None for a photo)
    rgb: np.ndarray  # H x W x 3 uint8


def is_video(path: Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def load_rgb(path: Path) -> np.ndarray:
    """A photo as 8-bit RGB, upright, exactly as veil's pipeline sees it (so manifest boxes line up)."""
    return load_image(path).rgb8()


def iter_frames(path: Path, sample_fps: float) -> Iterator[Frame]:
    """The frames to audit: the photo itself, or a video's frames at ``sample_fps`` (0 = every frame)."""
    if not is_video(path):
        yield Frame(0, None, load_rgb(path))
        return
    yield from _video_frames(path, sample_fps)


def _video_frames(path: Path, sample_fps: float) -> Iterator[Frame]:
    """Decoded pictures in coded orientation (the manifest's coordinates), on a fixed time grid.

    A frame is kept when it is the first at or after each multiple of 1/sample_fps seconds, so an
    output and its original (same timestamps) yield the same frame indices.
    """
    from veil.media.video import VideoSource

    with VideoSource(path, audio=False) as source:
        time_base = source.info.time_base
        next_time = -math.inf
        for item in source.frames():
            time = float(item.frame.pts * time_base)
            if time < next_time:
                continue
            if sample_fps > 0:
                next_time = (math.floor(time * sample_fps + 1e-6) + 1) / sample_fps
            yield Frame(item.index, round(time, 6), item.frame.to_ndarray(format="rgb24"))
