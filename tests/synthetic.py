"""License-clean test images: scikit-image's public-domain astronaut photo, and crowds made from it."""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

# The astronaut's face in skimage.data.astronaut() (512x512), measured once by hand: x1, y1, x2, y2.
ASTRONAUT_FACE = (176, 50, 276, 180)
_HEAD_MARGIN = 0.35


@cache
def astronaut() -> np.ndarray:
    from skimage.data import astronaut as load

    return load()


def head_crop() -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The astronaut's head with some context, and the face box inside that crop."""
    x1, y1, x2, y2 = ASTRONAUT_FACE
    mx, my = (x2 - x1) * _HEAD_MARGIN, (y2 - y1) * _HEAD_MARGIN
    cx1, cy1, cx2, cy2 = int(x1 - mx), int(max(0, y1 - my)), int(x2 + mx), int(y2 + my)
    return astronaut()[cy1:cy2, cx1:cx2], (x1 - cx1, y1 - cy1, x2 - cx1, y2 - cy1)


def synthetic_crowd(face_heights: list[int], width: int = 1024, height: int = 768,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Heads pasted at the given face heights on a textured background, without overlap.

    Returns the RGB image and the (N, 4) face boxes.
    """
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 255, (height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
    image = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    head, (fx1, fy1, fx2, fy2) = head_crop()
    occupied = np.zeros((height, width), bool)
    boxes = []
    for face_height in sorted(face_heights, reverse=True):
        scale = face_height / (fy2 - fy1)
        hw, hh = max(1, round(head.shape[1] * scale)), max(1, round(head.shape[0] * scale))
        patch = cv2.resize(head, (hw, hh), interpolation=cv2.INTER_AREA)
        for _ in range(200):
            x, y = int(rng.integers(0, width - hw)), int(rng.integers(0, height - hh))
            if not occupied[y : y + hh, x : x + hw].any():
                break
        else:
            raise ValueError("no room left for another face")
        occupied[y : y + hh, x : x + hw] = True
        image[y : y + hh, x : x + hw] = patch
        boxes.append((x + fx1 * scale, y + fy1 * scale, x + fx2 * scale, y + fy2 * scale))
    return image, np.asarray(boxes, np.float32)


def detail(gray: np.ndarray) -> float:
    """Fine detail left in a grayscale patch: mean |patch - blur(patch)|."""
    gray = gray.astype(np.float32)
    return float(np.abs(gray - cv2.GaussianBlur(gray, (0, 0), 1.0)).mean())
