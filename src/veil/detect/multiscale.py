"""Multi-scale, tiled inference around any single-pass detector, with merging across scales.

A detector sees faces down to roughly 10 px in its input. To find 6-20 px faces in crowd photos
without paying for a full upscaled pass on every image, veil runs:

1. a *coverage* pass over the whole image at native resolution (tiled when it is large), with a low
   proposal threshold;
2. a *zoom* pass at ``zoom``x on only the tiles where the coverage pass saw small-face candidates
   (accepted faces or sub-threshold peaks smaller than ``small_face`` px);
3. a *global* pass on a copy downscaled to ``global_side``, for large, blurry or partly hidden faces
   that the detector only sees whole at a coarser scale.

When most zoom tiles are needed (a crowd), the whole image is zoomed at once: the tiles' overlap
would cost more than the few tiles skipped.

Detections from all passes that pass ``threshold`` are merged by non-maximum suppression, and each
box kept is grown to the union of the boxes it suppressed that scored at least half as much: passes at
different scales place a face's box a little differently, and recall comes first, so the redaction
covers wherever a pass saw the face about as clearly. (Growing to every suppressed box also took in
weak partial views: on the WIDER subset it lowered the hard-set AP from 0.87 to 0.77 for one face
fewer leaked; see docs/benchmarks.md.)
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from veil.detect.base import Detector
from veil.detect.centerface import nms
from veil.detections import Detections, box_iou

MERGE_IOU = 0.4
CLUSTER_SCORE_RATIO = 0.5  # a suppressed box grows the kept one when it scored at least this share of it


@dataclass(frozen=True)
class ScalePlan:
    zoom: float = 2.0
    small_face: float = 32.0  # candidates smaller than this (px, original image) trigger the zoom pass
    # Sub-threshold peaks down to this score count as small-face candidates. 0.02 zoomed more of each
    # WIDER image for no fewer leaks; at 0.04 faces of 14-20 px on a plain background went unproposed.
    proposal_threshold: float = 0.03
    zoom_tile: int = 256  # tile side in original pixels for the zoom pass
    tile_margin: int = 24  # overlap added around each tile so faces on tile borders are whole in one tile
    full_zoom_share: float = 0.5  # zoom the whole image when at least this share of its tiles is needed
    coverage_tile: int = 2048  # passes are tiled above this side (in the pixels the detector sees)
    global_side: int = 640  # long side of the downscaled global pass (skipped for smaller images)


class MultiScaleDetector:
    def __init__(self, detector: Detector, plan: ScalePlan | None = None):
        self.detector = detector
        self.plan = plan or ScalePlan()

    @property
    def model(self):
        return self.detector.model

    def detect(self, rgb: np.ndarray, threshold: float) -> Detections:
        plan = self.plan
        height, width = rgb.shape[:2]
        low = min(plan.proposal_threshold, threshold)
        coverage = self._tiled(rgb, low, 1.0, _grid(width, height, plan.coverage_tile, plan.tile_margin))
        found = [coverage[coverage.scores >= threshold]]

        candidates = coverage[np.maximum(coverage.widths, coverage.heights) < plan.small_face]
        if len(candidates) and plan.zoom > 1:
            tiles = _tiles_around(candidates, width, height, plan.zoom_tile, plan.tile_margin)
            cells = -(-width // plan.zoom_tile) * -(-height // plan.zoom_tile)
            if len(tiles) >= plan.full_zoom_share * cells:
                tiles = _grid(width, height, round(plan.coverage_tile / plan.zoom), plan.tile_margin)
            found.append(self._tiled(rgb, threshold, plan.zoom, tiles))

        if max(width, height) > plan.global_side:
            scale = plan.global_side / max(width, height)
            small = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
            found.append(self.detector.forward(small, threshold).scaled(1 / scale))

        return merge_passes(found).clipped(width, height)

    def _tiled(self, rgb: np.ndarray, threshold: float, zoom: float, tiles: list[tuple[int, int, int, int]]) -> Detections:
        parts = []
        for x1, y1, x2, y2 in tiles:
            crop = rgb[y1:y2, x1:x2]
            if zoom != 1.0:
                crop = cv2.resize(crop, (max(1, round((x2 - x1) * zoom)), max(1, round((y2 - y1) * zoom))), interpolation=cv2.INTER_LINEAR)
            parts.append(self.detector.forward(crop, threshold).scaled(1 / zoom, dx=x1, dy=y1))
        return Detections.merge(parts)


def merge_passes(found: list[Detections]) -> Detections:
    """Detections of several passes over one image merged into one box per face: non-maximum suppression
    at ``MERGE_IOU``, each kept box grown to the union of the boxes that overlap it by at least
    ``MERGE_IOU`` and scored at least ``CLUSTER_SCORE_RATIO`` of its score."""
    everything = Detections.merge(found)
    kept = everything[nms(everything.boxes, everything.scores, MERGE_IOU)]
    if not len(kept):
        return kept
    member = ((box_iou(kept.boxes, everything.boxes) >= MERGE_IOU)
              & (everything.scores[None, :] >= CLUSTER_SCORE_RATIO * kept.scores[:, None]))
    rows, cols = np.nonzero(member)
    lows, highs = kept.boxes[:, :2].copy(), kept.boxes[:, 2:].copy()
    np.minimum.at(lows, rows, everything.boxes[cols, :2])
    np.maximum.at(highs, rows, everything.boxes[cols, 2:])
    return Detections(np.concatenate([lows, highs], axis=1), kept.scores, kept.sources)


def _grid(width: int, height: int, tile: int, margin: int) -> list[tuple[int, int, int, int]]:
    """Tiles of side ``tile`` (plus ``margin`` overlap) covering the image; one tile if it fits."""
    if max(width, height) <= tile:
        return [(0, 0, width, height)]
    xs = range(0, width, tile)
    ys = range(0, height, tile)
    return [
        (max(0, x - margin), max(0, y - margin), min(width, x + tile + margin), min(height, y + tile + margin))
        for y in ys
        for x in xs
    ]


def _tiles_around(candidates: Detections, width: int, height: int, tile: int, margin: int) -> list[tuple[int, int, int, int]]:
    """The grid cells that hold a candidate's centre, each grown by ``margin``."""
    centres = (candidates.boxes[:, :2] + candidates.boxes[:, 2:]) / 2
    cells = np.unique((centres // tile).astype(np.int64), axis=0)
    return [
        (max(0, cx * tile - margin), max(0, cy * tile - margin),
         min(width, (cx + 1) * tile + margin), min(height, (cy + 1) * tile + margin))
        for cx, cy in cells
    ]
