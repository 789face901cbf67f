"""Test clips with per-frame ground truth: a virtual camera panning and zooming across WIDER FACE images.

    .venv/bin/python benchmarks/video_clips.py [--data ../shared/data] [--out /tmp/veil-video-bench] [--height 1080]

Each clip is a sequence of shots, one WIDER val image per shot, cut hard from one to the next (so faces
appear without warning, as after a real cut). In a shot the camera moves from one 16:9 window of the
image to another (pan and zoom, eased in and out) and renders it at 25 fps; the image is always
magnified (the window is at most as wide as the image), so faces are at least as large as in the photo.
The ground truth of each frame is the image's GT boxes mapped through the same transform. A stereo AAC
tone track runs the whole length. Clips are written under ``--out`` (never into the repository) as
``clip_<height>p.mp4`` and ``clip_<height>p.json``: ``frames`` (per frame, the counted faces, ``[face id, x1,
y1, x2, y2]``: hard-set faces with at least half of the box in frame) and ``annotated`` (per frame, every
annotated face with any part in frame, ignored ones included, ``[x1, y1, x2, y2]``, for over-redaction).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.datasets import GroundTruth, wider_images  # noqa: E402

FPS = 25
SHOT_FRAMES = 32
SHOTS = 10
CANDIDATES = 6  # each shot's image is drawn from this many most crowded images of its event
MIN_VISIBLE = 0.5  # a face counts in a frame when at least half of its box is inside it
SAMPLE_RATE = 48000


@dataclass(frozen=True)
class Shot:
    image: GroundTruth
    start: tuple[float, float, float]  # window x, y, width in image pixels
    end: tuple[float, float, float]


def pick_shots(data: Path, shots: int = SHOTS, seed: int = 0) -> list[Shot]:
    """Shots over crowded images of every event present, with camera windows drawn from a fixed seed."""
    rng = np.random.default_rng(seed)
    images = [g for g in wider_images(data) if len(g.boxes) and g.kept["hard"].any()]
    by_event: dict[str, list[GroundTruth]] = {}
    for g in images:
        by_event.setdefault(g.path.parent.name, []).append(g)
    events = sorted(by_event)
    chosen = []
    for k in range(shots):
        pool = sorted(by_event[events[k % len(events)]], key=lambda g: -int(g.kept["hard"].sum()))[:CANDIDATES]
        chosen.append(pool[int(rng.integers(len(pool)))])
    out = []
    for image in chosen:
        height, width = cv2.imread(str(image.path)).shape[:2]
        out.append(Shot(image, _window(rng, width, height), _window(rng, width, height)))
    return out


def _window(rng: np.random.Generator, width: int, height: int) -> tuple[float, float, float]:
    max_w = min(width, height * 16 / 9)
    w = float(rng.uniform(0.55, 1.0)) * max_w
    h = w * 9 / 16
    return float(rng.uniform(0, width - w)), float(rng.uniform(0, height - h)), w


def write_clip(shots: list[Shot], out: Path, height: int) -> Path:
    """Render the clip (H.264 CRF 16 + AAC) and its ground truth; returns the clip path."""
    width = height * 16 // 9
    container = av.open(str(out), "w")
    video = container.add_stream("libx264", rate=FPS)
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    video.options = {"crf": "16", "preset": "veryfast"}
    audio = container.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
    truth: list[list[list[float]]] = []
    annotated: list[list[list[float]]] = []
    index = 0
    for s, shot in enumerate(shots):
        image = cv2.cvtColor(cv2.imread(str(shot.image.path)), cv2.COLOR_BGR2RGB)
        kept = shot.image.kept["hard"]
        for k in range(SHOT_FRAMES):
            t = k / (SHOT_FRAMES - 1)
            ease = t * t * (3 - 2 * t)
            x, y, w = (a + (b - a) * ease for a, b in zip(shot.start, shot.end))
            scale = width / w
            matrix = np.array([[scale, 0, -x * scale], [0, scale, -y * scale]], np.float64)
            frame = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            truth.append(_frame_truth(shot.image.boxes, kept, matrix, width, height, s))
            annotated.append(_annotated(shot.image.boxes, matrix, width, height))
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts = index
            picture.time_base = Fraction(1, FPS)
            container.mux(video.encode(picture))
            index += 1
    container.mux(video.encode(None))
    _write_tone(container, audio, index / FPS)
    container.close()
    out.with_suffix(".json").write_text(json.dumps({"fps": FPS, "width": width, "height": height, "frames": truth,
                                                    "annotated": annotated}))
    return out


def _mapped(boxes: np.ndarray, matrix: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The boxes in frame pixels, clipped to the frame, and each one's whole and visible area."""
    scale, dx, dy = matrix[0, 0], matrix[0, 2], matrix[1, 2]
    mapped = boxes * scale + np.array([dx, dy, dx, dy])
    clipped = mapped.copy()
    clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, width)
    clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, height)
    area = np.prod(mapped[:, 2:] - mapped[:, :2], axis=1)
    visible = np.prod(np.clip(clipped[:, 2:] - clipped[:, :2], 0, None), axis=1)
    return clipped, area, visible


def _annotated(boxes: np.ndarray, matrix: np.ndarray, width: int, height: int) -> list[list[float]]:
    clipped, _, visible = _mapped(boxes, matrix, width, height)
    return [[round(float(v), 2) for v in clipped[i]] for i in np.flatnonzero(visible > 0)]


def _frame_truth(boxes: np.ndarray, kept: np.ndarray, matrix: np.ndarray, width: int, height: int,
                 shot: int) -> list[list[float]]:
    clipped, area, visible = _mapped(boxes, matrix, width, height)
    rows = []
    for i in np.flatnonzero(kept & (visible >= MIN_VISIBLE * np.maximum(area, 1e-6))):
        rows.append([shot * 10000 + int(i), *(round(float(v), 2) for v in clipped[i])])
    return rows


def _write_tone(container: av.container.OutputContainer, stream: av.stream.Stream, seconds: float) -> None:
    samples = int(seconds * SAMPLE_RATE)
    t = np.arange(samples) / SAMPLE_RATE
    tone = 0.2 * np.sin(2 * np.pi * (220 + 110 * t) * t)
    pcm = np.stack([tone, np.roll(tone, 480)]).astype(np.float32)
    for start in range(0, samples, 1024):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[:, start : start + 1024]), format="fltp", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def make_clips(data: Path, out: Path, heights: list[int]) -> dict[int, Path]:
    out.mkdir(parents=True, exist_ok=True)
    shots = pick_shots(data)
    return {h: write_clip(shots, out / f"clip_{h}p.mp4", h) for h in heights}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--out", type=Path, default=Path("/tmp/veil-video-bench"))
    parser.add_argument("--height", type=int, action="append", help="clip height (repeatable); default 720 and 1080")
    args = parser.parse_args()
    for height, path in make_clips(args.data, args.out, args.height or [720, 1080]).items():
        print(f"{height}p: {path}")


if __name__ == "__main__":
    main()
