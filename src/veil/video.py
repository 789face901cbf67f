"""Anonymize a video file: decode -> detect on a schedule -> track and carry -> redact -> encode.

Four threads run concurrently (PyAV, onnxruntime, OpenCV and libx264 release the GIL):

- a reader decodes pictures, demuxes audio packets and measures the camera motion between frames (and
  finds cuts);
- a detector runs the face model on a schedule: a *fine* pass at native resolution (with the photo
  path's coarse global pass) every ``fine_every`` frames of a shot and at its ends, and a *fast* single
  pass on a smaller copy of the frames in between;
- the calling thread associates detections into tracks, waits until a frame's look-ahead window has
  been detected, carries tracked faces into it (forwards, backwards, interpolated; see
  :mod:`veil.track.carry`) and redacts it;
- a writer encodes and muxes pictures and the copied audio packets.

No frame reaches the encoder before every detection that can affect it is done. Everything is written
to a hidden temporary file beside the destination and renamed at the end; any error in any frame (or an
interrupt) removes it, so either the whole anonymized file exists or nothing does.
"""

from __future__ import annotations

import math
import os
import queue
import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from tqdm import tqdm

from veil.detect import Detector, create_detector
from veil.detect.multiscale import merge_passes
from veil.detections import Detections
from veil.errors import OutputError
from veil.media.atomic import atomic_output
from veil.media.video import SourceFrame, VideoSink, VideoSource
from veil.models import sha256_file
from veil.pipeline import Anonymizer
from veil.redact import Blur, Redactor, Region
from veil.redact.modes import gaussian_crop
from veil.redact.regions import grow, pixel_bounds, shape_mask
from veil.redact.steady import SteadyBlur, blur_level, level_sigma
from veil.track import CarryPolicy, TemporalCarry
from veil.track.motion import IDENTITY, frame_change

MOTION_SIDE = 480  # long side of the grey copies camera motion is measured on
QUEUE_DEPTH = 16  # decoded frames waiting for detection, and redacted frames waiting for the encoder (deep
# enough that the encoder keeps working while the calling thread waits out a fine pass)
IN_FLIGHT = 4  # detection jobs queued ahead of the one running
FACE_ASPECT = 0.8  # width / height of a detected face box (CenterFace, upright; median on WIDER)
_END = object()


@dataclass(frozen=True)
class Schedule:
    """Which frames get which detector pass, and how far faces are carried between them.

    A *fine* pass (one forward pass of the detector on the frame at up to ``fine_side`` pixels on its
    long side, i.e. native resolution for 1080p) runs every ``fine_every`` frames counted from the first
    frame of each shot, and on the last frame of a shot (see :meth:`pass_for`), together with the
    photo path's *global* pass (the same on a copy whose long side is ``global_side``; 0 turns it off),
    which finds large, blurry or partly hidden faces that the detector sees whole only at a coarser
    scale; both count at the anonymizer's threshold and are merged by non-maximum suppression (IoU 0.4,
    as in the photo path). A *fast* pass (on a copy whose long side is ``fast_side``; 0 turns it off)
    runs every ``fast_every``-th frame in between, at the anonymizer's threshold too. Setting
    ``fast_threshold`` above it keeps a fast-pass detection scoring under ``fast_threshold`` only where
    it continues a track: less over-redaction (on a small copy weak responses are often texture), but
    turned-away heads that the detector sees only weakly, and only on the small copy, are then lost (at
    0.3, the default before 2026-12-07, the benchmark's 1080p clip leaked 18 face-frames of 32 px or more
    against 2 without; docs/benchmarks.md). Small faces are found by the fine passes and interpolated between
    them; fast-moving large ones are also caught by the fast passes. Faces are carried ``carry`` frames
    backwards and forwards and interpolated across gaps of up to ``carry`` frames; ``carry`` defaults to
    ``fine_every``, so a face first found by a fine pass is also redacted back to the fine-pass frame
    before it.

    Before redaction (and the anonymizer's ``mask_scale``) boxes are widened about their centres:
    detector boxes by ``detected_margin`` (a single pass at one scale, on a compressed frame, places a
    box less exactly than the photo path's merged scales) and carried or interpolated ones by
    ``carried_margin`` (where a face is between detections is a prediction). Both are 1.3 by default:
    with detector boxes at 1.1 the benchmark clips leaked about twice the face-frames at 720p, and each
    face's ellipse changed size every other frame, where fast-pass detections and interpolated boxes
    alternate (docs/benchmarks.md). Boxes scoring under ``weak_score`` (a detection's score, or for a
    carried box the score of the detection it comes from) are widened by at least ``weak_margin``: the
    detector places a box it is unsure of less exactly too (a head turned away or blurred, boxed around
    its upper part or off to one side), and at 1.3 the benchmark clips left parts of such faces visible.
    Recall first: a blurred strip of background is cosmetic, a face edge left visible is a leak.
    """

    fine_every: int = 10
    fine_side: int = 1920
    fast_every: int = 2
    fast_side: int = 640
    fast_threshold: float = 0.0
    global_side: int = 640
    carry: int | None = None
    growth: float = 0.03
    detected_margin: float = 1.3
    carried_margin: float = 1.3
    weak_score: float = 0.3
    weak_margin: float = 1.4

    def __post_init__(self) -> None:
        if self.fine_every < 1 or self.fast_every < 1 or self.fine_side < 32 or min(self.fast_side, self.global_side) < 0:
            raise ValueError(f"invalid detection schedule: {self}")
        if min(self.detected_margin, self.carried_margin, self.weak_margin) < 1.0:
            raise ValueError(f"margins must be >= 1 (a smaller box would leave face pixels): {self}")

    def widened(self, boxes: Detections) -> Detections:
        """Boxes scaled about their centres before the anonymizer's own mask scale: detector boxes by
        ``detected_margin``, carried and interpolated ones by ``carried_margin``, weak ones by at least
        ``weak_margin``."""
        if not len(boxes):
            return boxes
        factor = np.where(boxes.sources == "detector", self.detected_margin, self.carried_margin).astype(np.float32)
        factor = np.where(boxes.scores < self.weak_score, np.maximum(factor, self.weak_margin), factor)
        centre = (boxes.boxes[:, :2] + boxes.boxes[:, 2:]) / 2
        half = (boxes.boxes[:, 2:] - boxes.boxes[:, :2]) * factor[:, None] / 2
        return Detections(np.concatenate([centre - half, centre + half], axis=1), boxes.scores, boxes.sources)

    def pass_for(self, position: int, *, last: bool = False) -> str | None:
        """The pass for the frame ``position`` frames into its shot; ``last``: the shot (or the video) ends
        with it. Fine passes are counted from the first frame of each shot, and the last frame gets one
        too unless the previous one is less than half the interval back: nothing is carried across a
        cut, so the frames at either end of a shot have detections on one side only."""
        since = position % self.fine_every
        if since == 0 or (last and 2 * since >= self.fine_every):
            return "fine"
        if self.fast_side and since % self.fast_every == 0:
            return "fast"
        return None

    @property
    def policy(self) -> CarryPolicy:
        carry = self.fine_every if self.carry is None else self.carry
        return CarryPolicy(lookahead=carry, coast=carry, max_gap=carry, growth=self.growth)


def anonymize_video(src: Path, dst: Path, anonymizer: Anonymizer, *, audio: bool = True, crf: int | None = None,
                    preset: str | None = None, codec: str = "h264", progress: bool = True,
                    schedule: Schedule | None = None) -> dict:
    """Write an anonymized copy of ``src`` to ``dst`` and return its manifest record.

    ``audio=False`` drops the audio streams (by default each is copied packet for packet). ``crf`` and
    ``preset`` tune the encoder (defaults: the codec's own, e.g. CRF 23 / medium for H.264).
    Raises InvalidInputError for unreadable input, OutputError when the output cannot be written;
    on any error nothing is left at ``dst``.
    """
    src, dst = Path(src), Path(dst)
    schedule = schedule or Schedule()
    if src.resolve() == dst.resolve():
        raise OutputError(f"output {dst} is the input; veil never writes over its input")
    with VideoSource(src, audio=audio) as source:
        with atomic_output(dst) as temporary:
            encoder = {"codec": codec, "crf": crf, "preset": preset, "label": dst}
            frames = _Job(source, temporary, anonymizer, schedule, encoder, progress).run()
        info = source.info
    return {
        "input": str(src),
        "output": str(dst),
        "output_sha256": sha256_file(dst),
        "width": info.width,
        "height": info.height,
        "model": {"name": anonymizer.model.name, "sha256": anonymizer.model.sha256, "license": anonymizer.model.license},
        "settings": {**anonymizer.settings, "video": {"codec": codec, "crf": crf, "preset": preset, "audio": audio,
                                                      "schedule": asdict(schedule)}},
        "time_base": str(info.time_base),
        "frames": frames,
    }


class _Job:
    def __init__(self, source: VideoSource, temporary: Path, anonymizer: Anonymizer, schedule: Schedule,
                 encoder: dict, progress: bool):
        self.source = source
        self.temporary = temporary
        self.anonymizer = anonymizer
        self.detector = job_detector(anonymizer)
        self.schedule = schedule
        self.encoder_settings = encoder
        self.carry = TemporalCarry(schedule.policy)
        mode = anonymizer.redactor.mode
        self.steady = SteadyBlur(mode) if isinstance(mode, Blur) else None
        self.progress = tqdm(total=source.info.frames or None, unit="frame", disable=not progress, dynamic_ncols=True)
        self.stop = threading.Event()
        self.records: list[dict] = []

    def run(self) -> list[dict]:
        decoded: queue.Queue = queue.Queue(QUEUE_DEPTH)
        encoded: queue.Queue = queue.Queue(QUEUE_DEPTH)
        reader = _Worker(self._read, decoded)
        detector = _Detector(self._detect)
        writer: _Worker | None = None
        sink: VideoSink | None = None
        waiting: deque[tuple[SourceFrame, str | None, Future | None]] = deque()  # not yet observed
        settled: deque[tuple[SourceFrame, str | None]] = deque()  # observed, waiting for look-ahead
        try:
            reader.start()
            detector.start()
            held: tuple[SourceFrame, int] | None = None  # read, its pass decided by the next frame
            shot_start = 0
            for item, motion, cut in _drain(decoded, reader):
                self.carry.moved(item.index, motion, cut=cut)
                if sink is None:  # opened here, not in the writer, so the temporary file is ours alone
                    sink = VideoSink(self.temporary, self.source, item.frame, **self.encoder_settings)
                    self.pix_fmt = sink.pix_fmt
                    writer = _Worker(self._write, encoded, sink)
                    writer.start()
                if held is not None:
                    self._submit(detector, waiting, *held, last=cut)
                    self._observe(waiting, settled, block=len(waiting) > IN_FLIGHT)
                    self._emit(settled, encoded, writer, final=False)
                shot_start = item.index if cut else shot_start
                held = (item, item.index - shot_start)
            if held is not None:
                self._submit(detector, waiting, *held, last=True)
            self._observe(waiting, settled, block=True, everything=True)
            self._emit(settled, encoded, writer, final=True)
            _put(encoded, _END, writer)
            writer.join()
            writer.raise_error()
            sink = None
            return self.records
        finally:
            self.stop.set()
            detector.shutdown()
            for worker in (reader, writer):
                if worker is not None:
                    worker.join(timeout=10)
            if sink is not None:
                sink.close()
            self.progress.close()

    # -- reader thread
    def _read(self, out: queue.Queue) -> None:
        previous = None
        for item in self.source.frames():
            frame = item.frame
            scale = min(1.0, MOTION_SIDE / max(frame.width, frame.height))
            gray = frame.to_ndarray(width=max(2, round(frame.width * scale)), height=max(2, round(frame.height * scale)),
                                    format="gray", interpolation="AREA")
            change = (IDENTITY, False) if previous is None else frame_change(previous, gray, scale)
            previous = gray
            if not self._offer(out, (item, *change)):
                return
        self._offer(out, _END)

    def _offer(self, out: queue.Queue, item) -> bool:
        """Put unless the job is stopping; False if it is."""
        while not self.stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    # -- detector thread
    def _detect(self, frame: av.VideoFrame, kind: str) -> Detections:
        schedule = self.schedule
        if kind == "fast":
            return self._pass(frame, schedule.fast_side)
        found = self._pass(frame, schedule.fine_side)
        if 0 < schedule.global_side < min(schedule.fine_side, max(frame.width, frame.height)):
            found = merge_passes([found, self._pass(frame, schedule.global_side)])
        return found

    def _pass(self, frame: av.VideoFrame, side: int) -> Detections:
        """One detector pass on the frame shrunk to at most ``side`` pixels on its long side, in frame pixels."""
        width, height = frame.width, frame.height
        scale = min(1.0, side / max(width, height))
        small_w, small_h = max(2, round(width * scale)), max(2, round(height * scale))
        rgb = frame.to_ndarray(width=small_w, height=small_h, format="rgb24", interpolation="AREA")
        turns = round(frame.rotation / 90) % 4  # upright for the detector, as a player would show it
        upright = np.ascontiguousarray(np.rot90(rgb, turns))
        found = self.detector.forward(upright, self.anonymizer.threshold)
        found = restore_cut_faces(found, upright.shape[1], upright.shape[0])
        return unrotate(found, turns, small_w, small_h).scaled(width / small_w, height / small_h)

    # -- calling thread
    def _submit(self, detector: _Detector, waiting: deque, item: SourceFrame, position: int, *, last: bool) -> None:
        kind = self.schedule.pass_for(position, last=last)
        waiting.append((item, kind, detector.submit(item.frame, kind) if kind else None))

    def _observe(self, waiting: deque, settled: deque, *, block: bool, everything: bool = False) -> None:
        """Feed finished detections to the tracker, in frame order."""
        while waiting:
            item, kind, job = waiting[0]
            if job is not None:
                if not job.done() and not (block or everything):
                    return
                weak = self.schedule.fast_threshold if kind == "fast" else 0.0
                self.carry.observe(item.index, job.result(), weak)  # re-raises a detection error: fail closed
            waiting.popleft()
            settled.append((item, kind))
            block = False

    def _emit(self, settled: deque, encoded: queue.Queue, writer: _Worker, *, final: bool) -> None:
        while settled and (final or self.carry.settled(settled[0][0].index)):
            item, kind = settled.popleft()
            faces = self.carry.resolve(item.index)
            sigmas = None
            if self.steady is not None:
                index = item.index
                same_shot = index > 0 and self.carry.same_shot(index - 1, index)
                sigmas = self.steady.sigmas(faces, self.carry.transform(index - 1, index) if same_shot else None)
            frame, regions = redact_frame(self.anonymizer.redactor, self._encodable(item.frame),
                                          self.schedule.widened(faces), sigmas)
            self.records.append({"index": item.index, "pts": item.frame.pts, "time": float(item.frame.time or 0.0),
                                 "pass": kind, "regions": [r.to_dict() for r in regions]})
            _put(encoded, (frame, item.audio), writer)

    def _encodable(self, frame: av.VideoFrame) -> av.VideoFrame:
        """The frame in the encoder's pixel format (decoders may output packed or paletted formats)."""
        return frame if frame.format.name == self.pix_fmt else frame.reformat(format=self.pix_fmt)

    # -- writer thread
    def _write(self, encoded: queue.Queue, sink: VideoSink) -> None:
        while not self.stop.is_set():
            try:
                item = encoded.get(timeout=0.2)
            except queue.Empty:
                continue
            if item is _END:
                sink.finish(self.source.trailing_audio)
                return
            sink.write(*item)
            self.progress.update(1)


def job_detector(anonymizer: Anonymizer) -> Detector:
    """The single-pass detector the video job runs: the anonymizer's own, except that an onnxruntime
    session on the CPU gets at most half the cores.

    The job already keeps the cores busy with decoding, camera motion, redaction and encoding, which
    overlap the detector; onnxruntime's intra-op workers spin while they wait for work, and on a small
    machine that spinning takes CPU from the encoder. The copy is a second session of the same verified model file.
    """
    base = anonymizer.detector.detector
    session = getattr(base, "session", None)  # the onnxruntime session of an ONNX detector
    if session is None:
        return base
    providers = session.get_providers()
    threads = max(1, (os.cpu_count() or 1) // 2)
    if providers[:1] != ["CPUExecutionProvider"] or session.get_session_options().intra_op_num_threads <= threads:
        return base
    return create_detector(anonymizer.model.name, providers=providers, threads=threads)


def redact_frame(redactor: Redactor, frame: av.VideoFrame, boxes: Detections,
                 sigmas: np.ndarray | None = None) -> tuple[av.VideoFrame, list[Region]]:
    """The frame with every box redacted, and the regions redacted.

    ``sigmas``: the blur's sigma for each box (e.g. from :class:`veil.redact.steady.SteadyBlur`), used
    on planar YUV; by default each box's own, from its width (both rounded up to a level).

    The frame must be in a planar format (every encoder's input format is). Only the samples whose
    pixels the redactor changed are written back, so the rest of the picture keeps its decoded values
    exactly instead of going through a lossy YUV -> RGB -> YUV round trip.

    Blur on 8-bit planar YUV with equal horizontal and vertical chroma subsampling (4:2:0, 4:4:4: what
    nearly every video is and what the encoder gets) is applied to the Y, U and V planes directly:
    a Gaussian blur is linear and RGB -> YUV is affine, so blurring each plane is blurring the picture,
    without converting the frame to RGB and back. Other modes and formats go through RGB.
    """
    if sigmas is not None and len(sigmas) != len(boxes):  # a face without a sigma would be skipped, not redacted
        raise ValueError(f"{len(sigmas)} blur sigmas for {len(boxes)} boxes")
    if not len(boxes):
        return frame, []
    subsampling = _yuv_subsampling(frame)
    if subsampling is not None and isinstance(redactor.mode, Blur):
        if sigmas is None:
            sigmas = redactor.mode.sigma(boxes.widths)
        return _redact_planes(redactor, frame, boxes, blur_level(sigmas), subsampling)
    rgb = frame.to_ndarray(format="rgb24")
    redacted, regions = redactor.apply(rgb, boxes)
    if not regions:
        return frame, []
    top = min(r.box[1] for r in regions) // 4 * 4  # whole chroma rows for any subsampling
    bottom = min(frame.height, -(-max(r.box[3] for r in regions) // 4) * 4)
    changed = (redacted[top:bottom] != rgb[top:bottom]).any(axis=2).astype(np.uint8)
    band = av.VideoFrame.from_ndarray(np.ascontiguousarray(redacted[top:bottom]), format="rgb24")
    band = band.reformat(format=frame.format.name, dst_colorspace=_SWS_COLORSPACE.get(frame.colorspace),
                         dst_color_range=frame.color_range or None)
    frame.make_writable()  # the decoder may still reference these buffers
    components = frame.format.components
    for plane, (target, source) in enumerate(zip(frame.planes, band.planes)):
        step = sum((c.bits + 7) // 8 for c in components if c.plane == plane)  # bytes per sample position
        sub_y, sub_x = -(-changed.shape[0] // source.height), -(-changed.shape[1] // source.width)
        mask = changed
        if sub_y > 1 or sub_x > 1:  # a subsampled sample changes if any pixel it covers changed
            mask = cv2.dilate(changed, np.ones((sub_y, sub_x), np.uint8), anchor=(0, 0))[::sub_y, ::sub_x]
        mask = mask[: source.height, : source.width].astype(bool)[..., None]
        row = top * target.height // frame.height
        dst = np.frombuffer(target, np.uint8).reshape(target.height, target.line_size)
        src = np.frombuffer(source, np.uint8).reshape(source.height, source.line_size)
        width = source.width * step
        np.copyto(dst[row : row + source.height, :width].reshape(source.height, source.width, step),
                  src[:, :width].reshape(source.height, source.width, step), where=mask)
    return frame, regions


def _yuv_subsampling(frame: av.VideoFrame) -> int | None:
    """The chroma subsampling factor (1 or 2, the same both ways) of an 8-bit planar Y'CbCr frame, else None."""
    fmt = frame.format
    components = fmt.components
    if fmt.is_rgb or len(components) != 3 or len(frame.planes) != 3 or any(c.bits != 8 for c in components):
        return None
    if [c.plane for c in components] != [0, 1, 2]:
        return None
    factor = -(-frame.width // frame.planes[1].width)
    if factor not in (1, 2) or -(-frame.height // frame.planes[1].height) != factor:
        return None
    return factor


def _redact_planes(redactor: Redactor, frame: av.VideoFrame, boxes: Detections, levels: np.ndarray,
                   factor: int) -> tuple[av.VideoFrame, list[Region]]:
    """Blur each box's shape in the Y, U and V planes in place (see :func:`redact_frame`).

    A crowd has dozens of faces per frame. Instead of one small blur per face, faces are grouped by
    blur strength (``levels``: see :func:`veil.redact.steady.blur_level`) and
    by overlapping blur contexts; each group is blurred once over its bounding box and every face takes
    its own shape from it.
    """
    blur: Blur = redactor.mode
    width, height = frame.width, frame.height
    frame.make_writable()  # the decoder may still reference these buffers
    planes = []
    for plane in frame.planes:
        samples = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        planes.append(samples[:, : plane.width])
    regions, crops, masks, chosen_levels = [], [], [], []
    for face, score, source, level in zip(boxes.boxes, boxes.scores, boxes.sources, levels):
        grown = grow(face, redactor.mask_scale)
        crop = pixel_bounds(grown, width, height)
        if crop is None:
            continue
        # whole chroma samples: the crop is widened to multiples of the subsampling factor
        x1, y1 = crop[0] // factor * factor, crop[1] // factor * factor
        x2, y2 = min(width, -(-crop[2] // factor) * factor), min(height, -(-crop[3] // factor) * factor)
        mask = shape_mask(redactor.shape, grown, (x1, y1, x2, y2))
        rows, columns = mask.any(axis=1), mask.any(axis=0)
        if not rows.any():
            continue
        crops.append((x1, y1, x2, y2))
        masks.append(mask)
        chosen_levels.append(level)
        top, left = int(rows.argmax()), int(columns.argmax())  # first and last set row and column
        bottom, right = len(rows) - int(rows[::-1].argmax()), len(columns) - int(columns[::-1].argmax())
        regions.append(Region((x1 + left, y1 + top, x1 + right, y1 + bottom), float(score), redactor.shape, str(source)))
    if not regions:
        return frame, regions
    crops_array, levels_array = np.asarray(crops, np.int64), np.asarray(chosen_levels)
    for level in np.unique(levels_array):
        sigma = float(level_sigma(level))
        members = np.flatnonzero(levels_array == level)
        for group in _blur_groups(crops_array[members], math.ceil(3 * sigma)):
            chosen = members[group]
            gx1, gy1 = (int(v) for v in crops_array[chosen, :2].min(axis=0))
            gx2, gy2 = (int(v) for v in crops_array[chosen, 2:].max(axis=0))
            union = np.zeros((gy2 - gy1, gx2 - gx1), bool)  # every face's shape in the group's box
            for k in chosen:
                x1, y1 = crops[k][0] - gx1, crops[k][1] - gy1
                h, w = masks[k].shape
                union[y1 : y1 + h, x1 : x1 + w] |= masks[k]
            chroma = union if factor == 1 else _any_in_blocks(union, factor)  # the same for U and V
            for index, samples in enumerate(planes):
                step, mask = (1, union) if index == 0 else (factor, chroma)
                bounds = (gx1 // step, gy1 // step, -(-gx2 // step), -(-gy2 // step))
                # 2 samples per sigma: cheaper than the photo path's 4, and a crowd of faces has many
                replacement = gaussian_crop(samples, bounds, max(blur.min_sigma, sigma / step), samples_per_sigma=2)
                np.copyto(samples[bounds[1] : bounds[3], bounds[0] : bounds[2]], replacement, where=mask)
    return frame, regions


def _blur_groups(crops: np.ndarray, pad: int) -> list[np.ndarray]:
    """Faces whose blur contexts (crop plus ``pad``) overlap, as groups of indices into ``crops``; a
    group whose bounding box would be mostly empty (a long chain) is split into single faces."""
    if len(crops) == 1:
        return [np.zeros(1, np.int64)]
    padded = crops + np.array([-pad, -pad, pad, pad])
    overlap = ((padded[:, None, 0] < padded[None, :, 2]) & (padded[None, :, 0] < padded[:, None, 2])
               & (padded[:, None, 1] < padded[None, :, 3]) & (padded[None, :, 1] < padded[:, None, 3]))
    # Connected components by label propagation (each face takes the smallest label among those it
    # overlaps, until none changes): a frame's faces need a few sweeps over a small matrix, cheaper than
    # scipy's connected_components, whose input checks and sparse conversion cost more per call.
    labels = np.arange(len(crops))
    while True:
        spread = np.where(overlap, labels[None, :], len(crops)).min(axis=1)
        if (spread == labels).all():
            break
        labels = spread
    areas = np.prod(padded[:, 2:] - padded[:, :2], axis=1)
    groups = []
    for label in np.unique(labels):
        group = np.flatnonzero(labels == label)
        box_area = np.prod(padded[group, 2:].max(axis=0) - padded[group, :2].min(axis=0))
        if len(group) > 1 and box_area > 3 * areas[group].sum():
            groups.extend(group[k : k + 1] for k in range(len(group)))
        else:
            groups.append(group)
    return groups


def _any_in_blocks(mask: np.ndarray, step: int) -> np.ndarray:
    """Subsampled mask: a sample is set when any pixel of its ``step`` x ``step`` block is."""
    h, w = mask.shape
    if h % step or w % step:
        padded = np.zeros((-(-h // step) * step, -(-w // step) * step), bool)
        padded[:h, :w] = mask
        mask = padded
    out = mask[::step, ::step].copy()
    for dy in range(step):
        for dx in range(step):
            if dx or dy:
                out |= mask[dy::step, dx::step]
    return out


# AVColorSpace of a frame -> the swscale colorspace PyAV's reformat takes, so the redacted pixels go
# back into YUV with the matrix the decoder used to take them out.
_SWS_COLORSPACE = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "SMPTE170M", 7: "SMPTE240M", 9: "BT2020", 10: "BT2020"}


def restore_cut_faces(found: Detections, width: int, height: int, aspect: float = FACE_ASPECT) -> Detections:
    """Boxes of faces cut by the frame edge, extended past that edge to a whole face's proportions.

    The detector boxes only the visible part of a face leaving the picture (the camera pans, or a person
    walks out), and the mask, an ellipse inscribed in that box, then leaves the corners of the visible
    part at the edge unredacted. A face box is about ``aspect`` as wide as tall (upright); a box that
    touches an edge and is narrower (left, right) or shorter (top, bottom) than that is extended
    outwards, away from the picture, so the ellipse is centred where the whole face would be.
    """
    if not len(found):
        return found
    boxes = found.boxes.copy()
    x1, y1, x2, y2 = boxes.T
    w, h = x2 - x1, y2 - y1
    edge = 1.0
    left, right = x1 <= edge, x2 >= width - edge
    top, bottom = y1 <= edge, y2 >= height - edge
    whole_w, whole_h = np.maximum(w, aspect * h), np.maximum(h, w / aspect)
    boxes[:, 0] = np.where(left & ~right, x2 - whole_w, x1)
    boxes[:, 2] = np.where(right & ~left, x1 + whole_w, x2)
    boxes[:, 1] = np.where(top & ~bottom, y2 - whole_h, y1)
    boxes[:, 3] = np.where(bottom & ~top, y1 + whole_h, y2)
    return Detections(boxes, found.scores, found.sources)


def unrotate(found: Detections, turns: int, width: int, height: int) -> Detections:
    """Boxes found on ``np.rot90(image, turns)`` mapped back onto ``image`` (``width`` x ``height``)."""
    if turns == 0 or not len(found):
        return found
    x1, y1, x2, y2 = found.boxes.T
    if turns == 1:
        boxes = np.stack([width - y2, x1, width - y1, x2], axis=1)
    elif turns == 2:
        boxes = np.stack([width - x2, height - y2, width - x1, height - y1], axis=1)
    else:
        boxes = np.stack([y1, height - x2, y2, height - x1], axis=1)
    return Detections(boxes, found.scores, found.sources)


class _Worker(threading.Thread):
    """A daemon thread that keeps the exception that ended it, for the calling thread to re-raise."""

    def __init__(self, target, *args):
        super().__init__(daemon=True, name=f"veil-{target.__name__.strip('_')}")
        self._target_fn, self._args = target, args
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn(*self._args)
        except BaseException as exc:  # noqa: BLE001  (handed to the calling thread)
            self.error = exc

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


class _Detector(threading.Thread):
    """One daemon thread running detection jobs in order (onnxruntime uses the cores itself).

    Not a ThreadPoolExecutor: Python waits for those at exit, so a hung detection would keep an
    interrupted run from ending.
    """

    def __init__(self, detect):
        super().__init__(daemon=True, name="veil-detect")
        self._detect = detect
        self._jobs: queue.Queue = queue.Queue()

    def submit(self, *args) -> Future:
        job: Future = Future()
        self._jobs.put((job, args))
        return job

    def shutdown(self) -> None:
        self._jobs.put((None, None))

    def run(self) -> None:
        while True:
            job, args = self._jobs.get()
            if job is None:
                return
            try:
                job.set_result(self._detect(*args))
            except BaseException as exc:  # noqa: BLE001  (re-raised by job.result() in the calling thread)
                job.set_exception(exc)


def _drain(source: queue.Queue, worker: _Worker):
    """Items from a worker's queue until its end marker; re-raises the worker's error."""
    while True:
        try:
            item = source.get(timeout=0.5)
        except queue.Empty:
            if not worker.is_alive():
                worker.raise_error()
                raise RuntimeError("the video reader stopped without finishing")
            continue
        if item is _END:
            return
        yield item


def _put(target: queue.Queue, item, worker: _Worker | None) -> None:
    """Put with a live check, so a dead writer cannot block the calling thread forever."""
    while True:
        try:
            target.put(item, timeout=0.5)
            return
        except queue.Full:
            if worker is not None and not worker.is_alive():
                worker.raise_error()
                raise RuntimeError("the video writer stopped without finishing")
