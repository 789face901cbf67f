"""Frame-to-frame association of face detections into tracks (IoU + Hungarian assignment).

This is the association step of SORT/ByteTrack reduced to what veil needs. The maintained ByteTrack
(roboflow ``trackers``, which replaced ``supervision.ByteTrack``) reports a track's first detection
with id -1, so the frames *before* it could not be carried back; and veil sees the future through its
look-ahead buffer, so it interpolates between detections instead of filtering; boxes are predicted
from the camera's motion (:mod:`veil.track.motion`) rather than from a per-track Kalman filter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from veil.detections import Detections, box_iou


@dataclass
class Track:
    """One face over time: the frames where a detector saw it, with the box and score in each."""

    id: int
    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)

    def add(self, index: int, box: np.ndarray, score: float) -> None:
        self.frames.append(index)
        self.boxes.append(np.asarray(box, np.float32))
        self.scores.append(float(score))

    @property
    def first(self) -> int:
        return self.frames[0]

    @property
    def last(self) -> int:
        return self.frames[-1]


class Associator:
    """Assigns each detection of a frame to a live track or starts a new one.

    A track stays live for ``max_gap`` frames after its last detection. Matching uses the IoU of the
    predicted and detected boxes, each grown by ``buffer`` of its size on every side (buffered IoU),
    so small fast faces whose boxes no longer overlap can still be linked; boxes whose heights differ
    by more than ``max_scale`` times are never linked (in a crowd that would join two faces).
    """

    def __init__(self, max_gap: int, min_iou: float = 0.2, buffer: float = 0.25, max_scale: float = 1.6):
        self.max_gap = max_gap
        self.min_iou = min_iou
        self.buffer = buffer
        self.max_scale = max_scale
        self.live: list[Track] = []
        self._next_id = 0

    def end_all(self) -> None:
        """Close every live track (at a cut: no detection after it continues one from before)."""
        self.live = []

    def update(self, index: int, detections: Detections, weak: np.ndarray | None = None,
               where: Callable[[Track], np.ndarray] | None = None) -> list[Track | None]:
        """The track of each detection, in order; tracks not seen for ``max_gap`` frames are closed.

        A ``weak`` detection (ByteTrack's low-score class) may extend a track but never starts one: its
        track is None when it matches none. ``where(track)`` predicts a live track's box in this frame
        (default: where it was last seen).
        """
        self.live = [t for t in self.live if index - t.last <= self.max_gap]
        assigned: list[Track | None] = [None] * len(detections)
        if self.live and len(detections):
            predicted = np.stack([where(t) if where else t.boxes[-1] for t in self.live])
            iou = buffered_iou(predicted, detections.boxes, self.buffer)
            scale = (predicted[:, None, 3] - predicted[:, None, 1]) / np.maximum(detections.heights[None, :], 1e-6)
            iou[(scale > self.max_scale) | (scale < 1 / self.max_scale)] = 0.0
            rows, cols = linear_sum_assignment(iou, maximize=True)
            for r, c in zip(rows, cols):
                if iou[r, c] >= self.min_iou:
                    assigned[c] = self.live[r]
        for k, (box, score) in enumerate(zip(detections.boxes, detections.scores)):
            track = assigned[k]
            if track is None and weak is not None and weak[k]:
                continue
            if track is None:
                track = Track(self._next_id)
                self._next_id += 1
                self.live.append(track)
                assigned[k] = track
            track.add(index, box, score)
        return assigned


def buffered_iou(a: np.ndarray, b: np.ndarray, buffer: float) -> np.ndarray:
    """(N, M) IoU of xyxy boxes after growing each by ``buffer`` times its width/height per side."""
    return box_iou(_grow(np.asarray(a, np.float32), buffer), _grow(np.asarray(b, np.float32), buffer))


def _grow(boxes: np.ndarray, buffer: float) -> np.ndarray:
    size = boxes[:, 2:] - boxes[:, :2]
    return np.concatenate([boxes[:, :2] - buffer * size, boxes[:, 2:] + buffer * size], axis=1)
