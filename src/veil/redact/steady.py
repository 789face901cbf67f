"""Blur strengths for the consecutive frames of a video, held steady from frame to frame.

A face's blur sigma follows its box width, and in a video that width jitters from frame to frame:
boxes come from detector passes at different scales and from interpolation between them. Strengths
are rounded up to levels half an octave apart, and whenever a face's box crosses from one level to the
next the whole blurred face changes at once, which the encoder cannot predict from the previous
picture. On the generated 1080p crowd clip of benchmarks/video.py, libx264 took 30% more CPU to
encode veil's redacted pictures than the input's, and 14% more with levels held (benchmarks/video_cpu.py;
docs/benchmarks.md). So a face keeps the level it had in the previous
frame while that level is at least the one its box needs and at most one level stronger. A face is
never blurred less than its own box asks for.
"""

from __future__ import annotations

import numpy as np

from veil.detections import Detections, box_iou
from veil.redact.modes import Blur
from veil.track.motion import warp_boxes

SAME_FACE_IOU = 0.5  # a box this close to a previous frame's box (moved with the camera) is that face


def blur_level(sigma: np.ndarray | float) -> np.ndarray:
    """The level of each sigma: sigma rounded *up* to a power of sqrt(2), as its exponent (2 log2 sigma)."""
    return np.ceil(2 * np.log2(sigma) - 1e-6).astype(np.int64)


def level_sigma(level: np.ndarray | int) -> np.ndarray:
    """The sigma of a level (see :func:`blur_level`)."""
    return 2.0 ** (np.asarray(level, np.float64) / 2)


class SteadyBlur:
    """Feed each frame's face boxes (before any margin is added) in frame order with :meth:`sigmas`."""

    def __init__(self, blur: Blur):
        self.blur = blur
        self._boxes = np.zeros((0, 4), np.float32)
        self._levels = np.zeros(0, np.int64)

    def sigmas(self, faces: Detections, motion: np.ndarray | None) -> np.ndarray:
        """One blur sigma per face box of this frame; ``motion``: the camera's 3x3 map from the previous
        frame to this one, None when this frame starts a new shot (nothing is held across a cut)."""
        needed = blur_level(self.blur.sigma(faces.widths))
        levels = needed
        if motion is not None and len(self._boxes) and len(faces):
            overlap = box_iou(faces.boxes, warp_boxes(self._boxes, motion))
            best = overlap.argmax(axis=1)
            held = self._levels[best]
            keep = (overlap[np.arange(len(faces)), best] >= SAME_FACE_IOU) & (held >= needed) & (held <= needed + 1)
            levels = np.where(keep, held, needed)
        self._boxes, self._levels = faces.boxes, levels
        return level_sigma(levels)
