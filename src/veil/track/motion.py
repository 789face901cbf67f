"""Camera motion between consecutive frames (sparse optical flow + a robust similarity fit).

Faces found only every few frames must be linked and carried across those frames; when the camera
pans or zooms, a box held in place is in the wrong spot after a few frames. The estimate is the
global 2D similarity (scale, rotation, shift) most corners in the picture agree on; where none is
clear (a cut, a blank frame) it is the identity, i.e. boxes are held.
"""

from __future__ import annotations

import cv2
import numpy as np

IDENTITY = np.eye(3, dtype=np.float64)
MAX_CORNERS = 300
MIN_INLIERS = 12


def estimate_motion(previous: np.ndarray, current: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """3x3 matrix taking pixel coordinates of the previous frame to the current one.

    ``previous`` and ``current`` are grey copies of the frames shrunk by ``scale``; the result is in
    full-frame pixels.
    """
    corners = cv2.goodFeaturesToTrack(previous, MAX_CORNERS, qualityLevel=0.01, minDistance=8, blockSize=7)
    if corners is None or len(corners) < MIN_INLIERS:
        return IDENTITY
    moved, status, _ = cv2.calcOpticalFlowPyrLK(previous, current, corners, None, winSize=(21, 21), maxLevel=3)
    ok = status.reshape(-1) == 1
    if ok.sum() < MIN_INLIERS:
        return IDENTITY
    matrix, inliers = cv2.estimateAffinePartial2D(corners[ok], moved[ok], method=cv2.RANSAC, ransacReprojThreshold=2.0)
    if matrix is None or inliers.sum() < MIN_INLIERS:
        return IDENTITY
    matrix[:, 2] /= scale
    return np.vstack([matrix, [0.0, 0.0, 1.0]])


def warp_box(box: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """An xyxy box moved by a similarity: its centre mapped, its sides scaled."""
    centre = matrix @ np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, 1.0])
    zoom = float(np.sqrt(abs(np.linalg.det(matrix[:2, :2]))))
    half = (np.asarray(box[2:], np.float64) - box[:2]) * zoom / 2
    return np.concatenate([centre[:2] - half, centre[:2] + half]).astype(np.float32)
