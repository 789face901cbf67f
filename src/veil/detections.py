"""The one result object every stage passes along: boxes, scores and where each box came from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SOURCES = ("detector", "track", "interpolation", "manual")


@dataclass(frozen=True)
class Detections:
    """Face boxes in pixel coordinates of the frame they belong to.

    ``boxes`` is (N, 4) float32 ``x1, y1, x2, y2``; ``scores`` is (N,) float32;
    ``sources`` is (N,) of strings from :data:`SOURCES`.
    """

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    sources: np.ndarray = field(default_factory=lambda: np.zeros((0,), dtype="<U13"))

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        sources = np.asarray(self.sources, dtype="<U13").reshape(-1)
        if sources.size == 0 and len(boxes):
            sources = np.full(len(boxes), "detector", dtype="<U13")
        if not (len(boxes) == len(scores) == len(sources)):
            raise ValueError(f"boxes, scores and sources differ in length: {len(boxes)}, {len(scores)}, {len(sources)}")
        if not (np.isfinite(boxes).all() and np.isfinite(scores).all()):
            # A faulty model must fail its frame (and so the file), never have a face box quietly dropped.
            raise ValueError("non-finite box or score")
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "sources", sources)

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index) -> Detections:
        return Detections(self.boxes[index], self.scores[index], self.sources[index])

    @property
    def widths(self) -> np.ndarray:
        return self.boxes[:, 2] - self.boxes[:, 0]

    @property
    def heights(self) -> np.ndarray:
        return self.boxes[:, 3] - self.boxes[:, 1]

    @classmethod
    def merge(cls, parts: list[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls()
        return cls(
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.sources for p in parts]),
        )

    def scaled(self, sx: float, sy: float | None = None, dx: float = 0.0, dy: float = 0.0) -> Detections:
        """Boxes multiplied by (sx, sy) and then shifted by (dx, dy)."""
        sy = sx if sy is None else sy
        boxes = self.boxes * np.array([sx, sy, sx, sy], np.float32) + np.array([dx, dy, dx, dy], np.float32)
        return Detections(boxes, self.scores, self.sources)

    def clipped(self, width: int, height: int) -> Detections:
        """Boxes clipped to the frame; boxes left with no area are dropped."""
        boxes = self.boxes.copy()
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return Detections(boxes[keep], self.scores[keep], self.sources[keep])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` (N, 4) with every box in ``b`` (M, 4): an (N, M) array."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter, dtype=np.float64), where=union > 0)
