"""Temporal carry: a face the detector found in some frames is redacted in the frames around them too.

Frames are resolved with a look-ahead: the boxes of frame ``i`` are final only once every detection
frame up to ``i + lookahead + max_gap`` has been observed. Then, per track:

- between two detections at most ``max_gap`` frames apart, the box is interpolated linearly between
  the two detections, each first moved with the camera into the frame, and grown by ``growth`` of its
  size per frame of distance to the nearer one, halved (source ``"interpolation"``);
- up to ``lookahead`` frames *before* a track's first detection (or a re-appearance) and up to ``coast``
  frames after its last, the box is moved with the camera (:mod:`veil.track.motion`) and with the
  face's own motion between its nearest detections (which may grow the box but never shrinks it), and
  grown by ``growth`` of its size per frame of distance (source ``"track"``), because a detector usually
  finds a face a few frames after it became recognisable and loses it a few frames before it stops
  being so.

Nothing is carried across a cut (a change of shot, :func:`veil.track.motion.frame_change`): a track ends
at a cut, and its boxes are not carried into the frames of another shot, where they would only blur
the wrong place.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

from veil.detections import Detections, box_iou
from veil.track.associate import Associator, Track
from veil.track.motion import IDENTITY, box_map, moved_boxes

DUPLICATE_IOU = 0.5  # a carried box this close to another box of the same frame is the same face


@dataclass(frozen=True)
class CarryPolicy:
    lookahead: int = 12
    coast: int = 12
    max_gap: int = 12
    growth: float = 0.03

    def __post_init__(self) -> None:
        if min(self.lookahead, self.coast, self.max_gap) < 0 or self.growth < 0:
            raise ValueError(f"carry lengths and growth must be >= 0: {self}")


class TemporalCarry:
    """Feed every frame's camera motion with :meth:`moved` and detection frames with :meth:`observe`,
    both in frame order; read final boxes with :meth:`resolve`."""

    def __init__(self, policy: CarryPolicy | None = None):
        self.policy = policy or CarryPolicy()
        self._associator = Associator(max_gap=self.policy.max_gap)
        self._tracks: dict[int, Track] = {}
        self._direct: dict[int, Detections] = {}
        self._motion: dict[int, np.ndarray] = {}  # frame -> 3x3 map from the previous frame's pixels
        self._cuts: list[int] = []  # frames that start a new shot, in order
        self._transforms: dict[tuple[int, int], np.ndarray] = {}  # memo of transform(); a crowd has hundreds of tracks
        self._box_maps: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}  # memo of _moved()'s map
        self.observed = -1  # the last detection frame fed in
        # A frame can use detections this far ahead: a face found ``lookahead`` frames later, and the
        # motion of that face measured over up to ``max_gap`` frames beyond it.
        self._window = self.policy.lookahead + self.policy.max_gap

    def moved(self, index: int, matrix: np.ndarray, cut: bool = False) -> None:
        """The camera motion from frame ``index - 1`` to frame ``index``; ``cut``: frame ``index`` starts a
        new shot."""
        self._motion[index] = matrix
        self._transforms.clear()
        self._box_maps.clear()
        if cut:
            self._cuts.append(index)

    def same_shot(self, a: int, b: int) -> bool:
        """Whether no cut lies between frames ``a`` and ``b``."""
        return self._shot(a) == self._shot(b)

    def _shot(self, index: int) -> int:
        """How many cuts come at or before frame ``index`` (the same number for every frame of a shot)."""
        return bisect.bisect_right(self._cuts, index)

    def transform(self, source: int, target: int) -> np.ndarray:
        """3x3 map of pixel coordinates from frame ``source`` to frame ``target`` (identity where unknown)."""
        known = self._transforms.get((source, target))
        if known is not None:
            return known
        matrix = IDENTITY
        for index in range(min(source, target) + 1, max(source, target) + 1):
            matrix = self._motion.get(index, IDENTITY) @ matrix
        matrix = matrix if target >= source else np.linalg.inv(matrix)
        self._transforms[(source, target)] = matrix
        return matrix

    def _moved(self, box: np.ndarray, source: int, target: int) -> np.ndarray:
        """A box of frame ``source`` moved with the camera into frame ``target`` (see
        :func:`veil.track.motion.warp_boxes`), with the box map kept for the other tracks."""
        key = (source, target)
        move = self._box_maps.get(key)
        if move is None:
            move = self._box_maps[key] = box_map(self.transform(source, target))
        return moved_boxes(box, move)

    def observe(self, index: int, detections: Detections, weak_below: float = 0.0) -> None:
        """The detector's result on frame ``index`` (frames must come in increasing order).

        Detections scoring under ``weak_below`` count only where they continue a known track; alone
        they are dropped (on small, cheap passes weak responses are mostly texture).
        """
        if index <= self.observed:
            raise ValueError(f"detection frames must increase: {index} after {self.observed}")
        if not self.same_shot(self.observed, index):
            self._associator.end_all()  # a face of the previous shot continues no track
        tracks = self._associator.update(index, detections, detections.scores < weak_below,
                                         lambda t: self._moved(t.boxes[-1], t.last, index))
        for track in tracks:
            if track is not None:
                self._tracks[track.id] = track
        self._direct[index] = detections[np.array([t is not None for t in tracks], bool)]
        self.observed = index

    def settled(self, index: int) -> bool:
        """Whether no future detection can change frame ``index`` any more (before the end of input)."""
        return index + self._window <= self.observed

    def resolve(self, index: int) -> Detections:
        """Every box to redact in frame ``index``; call once per frame, in order, once it is settled
        (or at the end of the input)."""
        direct = self._direct.pop(index, Detections())
        horizon = max(self.policy.coast, self.policy.max_gap)
        # A carried box's velocity is measured up to max_gap frames before a detection up to coast frames back.
        for old in [k for k in self._motion if k < index - self.policy.coast - self.policy.max_gap]:
            del self._motion[old]
        carried: list[tuple[np.ndarray, float, str]] = []
        shot = self._shot(index)  # once for all tracks
        for track_id, track in list(self._tracks.items()):
            if index - track.last > horizon:  # no later detection can join it, nothing left to carry
                del self._tracks[track_id]
                continue
            if self._shot(track.first) == shot:  # a track lies within one shot
                carried.extend(self._carry(track, index))
        if not carried:
            return direct
        return Detections.merge([direct, _unduplicated(carried, direct)])

    def _carry(self, track: Track, index: int) -> list[tuple[np.ndarray, float, str]]:
        policy = self.policy
        frames = track.frames
        # Detections past the look-ahead window are ignored, so the result never depends on how far
        # detection happened to run ahead of redaction.
        end = bisect.bisect_right(frames, index + self._window)
        k = bisect.bisect_left(frames, index)
        if k < end and frames[k] == index:
            return []  # detected in this very frame
        before, after = k - 1, k  # positions of the detections around this frame, if any
        has_before, has_after = before >= 0, after < end
        if has_before and has_after and frames[after] - frames[before] <= policy.max_gap:
            # Each end is first moved with the camera into this frame, so a zoom or a pan that speeds
            # up or slows down between the detections is followed; the face's own motion is linear.
            t = (index - frames[before]) / (frames[after] - frames[before])
            start = self._moved(track.boxes[before], frames[before], index)
            end_box = self._moved(track.boxes[after], frames[after], index)
            box = _grown((1 - t) * start + t * end_box, policy.growth * min(index - frames[before], frames[after] - index) / 2)
            return [(box, min(track.scores[before], track.scores[after]), "interpolation")]
        out = []
        if has_before and index - frames[before] <= policy.coast:
            out.append(self._extrapolate(track, before, index, end))
        if has_after and frames[after] - index <= policy.lookahead:
            out.append(self._extrapolate(track, after, index, end))
        return out

    def _extrapolate(self, track: Track, position: int, index: int, end: int) -> tuple[np.ndarray, float, str]:
        """The box of the detection at ``position`` carried to frame ``index``: moved with the camera and
        with the face's own motion (measured against the camera over the nearest detections on that
        side), and grown for the uncertainty."""
        source = track.frames[position]
        distance = index - source
        own = self._velocity(track, position, distance < 0, end) * distance  # the face's own motion, per side
        # The face's own motion moves the box, but never shrinks it: a detector box that shrinks from one
        # detection to the next is mostly a face cut by the frame edge (boxed only where visible) or a
        # loosely placed detection, and shrinking it further as it is carried leaves face edges visible.
        # Growth is kept (a face walking towards the camera).
        shift = (own[:2] + own[2:]) / 2
        spread = np.maximum(own[2:] - own[:2], 0) / 2
        box = self._moved(track.boxes[position], source, index)
        box = box + np.concatenate([shift - spread, shift + spread])
        return _grown(box, self.policy.growth * abs(distance) / 2), track.scores[position], "track"

    def _velocity(self, track: Track, position: int, later: bool, end: int) -> np.ndarray:
        """Per-frame box motion of the face itself (camera motion removed) at the detection at
        ``position``, over the farthest detection within ``max_gap`` frames after it (``later``; only
        detections before position ``end``) or before it; zero when there is none (a held box)."""
        frames, gap = track.frames, self.policy.max_gap
        if later:
            other = min(bisect.bisect_right(frames, frames[position] + gap), end) - 1
        else:
            other = bisect.bisect_left(frames, frames[position] - gap)
        if other == position:
            return np.zeros(4, np.float32)
        moved = self._moved(track.boxes[position], frames[position], frames[other])
        return (track.boxes[other] - moved) / float(frames[other] - frames[position])


def _grown(box: np.ndarray, share: float) -> np.ndarray:
    """The box grown by ``share`` of its size on every side."""
    size = box[2:] - box[:2]
    return np.concatenate([box[:2] - share * size, box[2:] + share * size]).astype(np.float32)


def _unduplicated(carried: list[tuple[np.ndarray, float, str]], direct: Detections) -> Detections:
    """Carried boxes less those that repeat a detection or a higher-scored carried box of the frame
    (two tracks of one face, e.g. after a missed association)."""
    order = sorted(range(len(carried)), key=lambda i: -carried[i][1])
    boxes = np.stack([carried[i][0] for i in order])
    repeats = box_iou(boxes, direct.boxes).max(axis=1, initial=0.0) >= DUPLICATE_IOU
    overlapping = box_iou(boxes, boxes) >= DUPLICATE_IOU
    kept = np.zeros(len(order), bool)
    for k in range(len(order)):
        kept[k] = not repeats[k] and not (overlapping[k] & kept).any()
    if not kept.any():
        return Detections()
    chosen = [order[k] for k in np.flatnonzero(kept)]
    return Detections(np.stack([carried[i][0] for i in chosen]), [carried[i][1] for i in chosen],
                      [carried[i][2] for i in chosen])
