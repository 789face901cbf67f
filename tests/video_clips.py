"""License-clean test videos: the astronaut's head moving over a background, with a generated tone."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from synthetic import head_crop

SAMPLE_RATE = 16000


def moving_head(count: int, width: int = 320, height: int = 240, face_height: int = 72,
                enter: int = 0) -> tuple[list[np.ndarray], list[tuple[float, float, float, float] | None]]:
    """Frames of a head sliding right over a textured background, and the face box per frame (None
    before frame ``enter``, when the head is not in the picture yet)."""
    rng = np.random.default_rng(1)
    noise = rng.integers(60, 200, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    background = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    head, (fx1, fy1, fx2, fy2) = head_crop()
    scale = face_height / (fy2 - fy1)
    patch = cv2.resize(head, (round(head.shape[1] * scale), round(head.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    ph, pw = patch.shape[:2]
    frames, boxes = [], []
    for index in range(count):
        frame = background.copy()
        if index < enter:
            frames.append(frame)
            boxes.append(None)
            continue
        x = 10 + (index - enter) * 4
        y = (height - ph) // 2
        frame[y : y + ph, x : x + pw] = patch[:, : max(0, min(pw, width - x))]
        frames.append(frame)
        boxes.append((x + fx1 * scale, y + fy1 * scale, x + fx2 * scale, y + fy2 * scale))
    return frames, boxes


def write_clip(path: Path, frames: list[np.ndarray], *, pts: list[int] | None = None, time_base=Fraction(1, 1000),
               audio: bool = True, rotation: int | None = None, tags: dict[str, str] | None = None,
               stream_tags: dict[str, str] | None = None, rgb_rotation: int = 0) -> Path:
    """Encode ``frames`` (H.264, timestamps ``pts`` in ``time_base``; default 25 fps) with a tone track.

    ``rgb_rotation`` turns each picture by that many quarter turns (np.rot90) before storing it, and
    ``rotation`` sets the display matrix a player applies (degrees counter-clockwise).
    """
    pts = pts if pts is not None else [i * 40 for i in range(len(frames))]
    container = av.open(str(path), "w")
    for key, value in (tags or {}).items():
        container.metadata[key] = value
    stored = [np.ascontiguousarray(np.rot90(f, rgb_rotation)) for f in frames]
    video = container.add_stream("libx264", rate=25)
    video.height, video.width = stored[0].shape[:2]
    video.pix_fmt = "yuv420p"
    video.time_base = time_base
    video.codec_context.time_base = time_base
    video.options = {"preset": "ultrafast", "crf": "18"}
    for key, value in (stream_tags or {}).items():
        video.metadata[key] = value
    if rotation is not None:
        video.set_display_rotation(rotation)
    sound = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono") if audio else None
    for picture, stamp in zip(stored, pts):
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts, frame.time_base = stamp, time_base
        container.mux(video.encode(frame))
    container.mux(video.encode(None))
    if sound is not None:
        seconds = float((pts[-1] + 40) * time_base)
        samples = int(seconds * SAMPLE_RATE)
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / SAMPLE_RATE)).astype(np.float32)
        for start in range(0, samples, 1024):
            chunk = av.AudioFrame.from_ndarray(tone[None, start : start + 1024], format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = SAMPLE_RATE, start
            container.mux(sound.encode(chunk))
        container.mux(sound.encode(None))
    container.close()
    return path


def video_summary(path: Path) -> dict:
    """What must survive anonymization: timestamps, audio packets, rotation; and the tags left."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [(f.pts * f.time_base, f.rotation) for f in container.decode(video=0)]
        container.seek(0)
        audio = [(p.pts * p.time_base, p.duration, hashlib.sha256(bytes(p)).hexdigest())
                 for p in container.demux(audio=0) if p.size] if container.streams.audio else []
        return {"times": [t for t, _ in frames], "rotations": {r for _, r in frames}, "audio": audio,
                "tags": dict(container.metadata), "stream_tags": dict(stream.metadata),
                "streams": [s.type for s in container.streams]}


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
