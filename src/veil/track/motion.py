"""Camera motion between consecutive frames (sparse optical flow + a robust similarity fit).

Faces found only every few frames must be linked and carried across those frames; when the camera
pans or zooms, a box held in place is in the wrong spot after a few frames. The estimate is the
global 2D similarity (scale, rotation, shift) most corners in the picture agree on; where none is
clear (a cut, a blank frame) there is none, and boxes are held.

A *cut* (a hard change of shot) is where no motion is found and the picture's brightness distribution
changes abruptly as well; faces are not carried across it (a box of the previous shot is in the wrong
place in the next one). Both tests must agree, so a blank, blurred or flashing frame in one shot is not
taken for a cut.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

IDENTITY = np.eye(3, dtype=np.float64)
MAX_CORNERS = 300
MIN_INLIERS = 12
CUT_DISTANCE = 0.15  # Bhattacharyya distance of 32-bin grey histograms (benchmarks/video.py reports it within
# shots and at cuts of its clips)


def estimate_motion(previous: np.ndarray, current: np.ndarray, scale: float = 1.0) -> np.ndarray | None:
    """3x3 matrix taking pixel coordinates of the previous frame to the current one, or None when the
    pictures agree on no motion.

    ``previous`` and ``current`` are grey copies of the frames shrunk by ``scale``; the result is in
    full-frame pixels.
    """
    corners = cv2.goodFeaturesToTrack(previous, MAX_CORNERS, qualityLevel=0.01, minDistance=8, blockSize=7)
    if corners is None or len(corners) < MIN_INLIERS:
        return None
    moved, status, _ = cv2.calcOpticalFlowPyrLK(previous, current, corners, None, winSize=(21, 21), maxLevel=3)
    ok = status.reshape(-1) == 1
    if ok.sum() < MIN_INLIERS:
        return None
    matrix, inliers = cv2.estimateAffinePartial2D(corners[ok], moved[ok], method=cv2.RANSAC, ransacReprojThreshold=2.0)
    if matrix is None or inliers.sum() < MIN_INLIERS:
        return None
    matrix[:, 2] /= scale
    return np.vstack([matrix, [0.0, 0.0, 1.0]])


def frame_change(previous: np.ndarray, current: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, bool]:
    """The camera motion from ``previous`` to ``current`` (as :func:`estimate_motion`; the identity where
    none is found) and whether a cut lies between them (no motion found, and :func:`is_cut`)."""
    motion = estimate_motion(previous, current, scale)
    if motion is not None:
        return motion, False
    return IDENTITY, is_cut(previous, current)


def is_cut(previous: np.ndarray, current: np.ndarray) -> bool:
    """Whether the grey pictures' brightness distributions differ as across a change of shot."""
    return histogram_distance(previous, current) > CUT_DISTANCE


def histogram_distance(previous: np.ndarray, current: np.ndarray) -> float:
    """Bhattacharyya distance (0 same, 1 disjoint) of the 32-bin histograms of two grey pictures."""
    histograms = [cv2.calcHist([image], [0], None, [32], [0, 256]) for image in (previous, current)]
    return float(cv2.compareHist(*histograms, cv2.HISTCMP_BHATTACHARYYA))


def warp_boxes(boxes: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, 4) xyxy boxes moved by a similarity: each centre mapped, each box's sides scaled."""
    return moved_boxes(np.asarray(boxes).reshape(-1, 4), box_map(matrix))


def moved_boxes(boxes: np.ndarray, move: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """xyxy boxes, (4,) or (N, 4), moved by a :func:`box_map`."""
    linear, offset = move
    return (np.asarray(boxes, np.float64) @ linear + offset).astype(np.float32)


def box_map(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The move of an xyxy box by a similarity (centre mapped, sides scaled) as ``box @ linear + offset``.

    Mapping the centre and scaling the sides is linear in (x1, y1, x2, y2), so it is one 4x4 product
    plus an offset: carrying a crowd's tracks moves tens of thousands of single boxes per video, where
    building this map costs more than applying it, so callers that move many boxes by one matrix keep it.
    """
    (a, b, tx), (c, d, ty) = matrix[0, :3].tolist(), matrix[1, :3].tolist()
    zoom = math.sqrt(abs(a * d - b * c))  # of the 2x2 part
    p, q = (a + zoom) / 2, (a - zoom) / 2  # x1' = p x1 + q x2 + b (y1 + y2) / 2 + tx, and so on
    r, s = (d + zoom) / 2, (d - zoom) / 2
    linear = np.array([[p, b / 2, q, b / 2], [c / 2, r, c / 2, s], [q, b / 2, p, b / 2], [c / 2, s, c / 2, r]])
    return linear.T, np.array([tx, ty, tx, ty])
