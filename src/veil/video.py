"""Anonymize a video file: decode -> detect on a schedule -> track and carry -> redact -> encode.

Four threads run concurrently (PyAV, onnxruntime, OpenCV and libx264 release the GIL):

- a reader decodes pictures, demuxes audio packets and measures the camera motion between frames;
- a detector runs the face model on a schedule: a *fine* pass at native resolution every ``fine_every``
  and a *fast* single pass on a smaller copy of the frames in between;
- the calling thread associates detections into tracks, waits until a frame's look-ahead window has
  been detected, carries tracked faces into it (forwards, backwards, interpolated; see
  :mod:`veil.track.carry`) and redacts it;
- a writer encodes and muxes pictures and the copied audio packets.

No frame reaches the encoder before every detection that can affect it is done. Everything is written
to a hidden temporary file beside the destination and renamed at the end; any error in any frame (or an
interrupt) removes it, so either the whole anonymized file exists or nothing does.
"""

from __future__ import annotations

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

from veil.detections import Detections
from veil.errors import OutputError
from veil.media.atomic import atomic_output
from veil.media.video import SourceFrame, VideoSink, VideoSource
from veil.models import sha256_file
from veil.pipeline import Anonymizer
from veil.redact import Redactor, Region
from veil.track import CarryPolicy, TemporalCarry
from veil.track.motion import IDENTITY, estimate_motion

MOTION_SIDE = 480  # long side of the grey copies camera motion is measured on
QUEUE_DEPTH = 8  # decoded frames waiting for detection, and redacted frames waiting for the encoder
IN_FLIGHT = 2  # detection jobs queued ahead of the one running
_END = object()


@dataclass(frozen=True)
class Schedule:
    """Which frames get which detector pass, and how far faces are carried between them.

    A *fine* pass (one forward pass of the detector on the frame at up to ``fine_side`` pixels on its
    long side, i.e. native resolution for 1080p) runs every ``fine_every`` frames; a *fast* pass (the
    same on a copy whose long side is ``fast_side``; 0 turns it off) every ``fast_every``-th frame in
    between. A fast-pass detection scoring under ``fast_threshold`` is kept only where it continues a
    track (on a small copy the detector's weak responses are mostly texture). Small faces are found by the fine passes and interpolated
    between them; fast-moving large ones are also caught by the fast passes. Faces are carried ``carry`` frames backwards and forwards
    and interpolated across gaps of up to ``carry`` frames; ``carry`` defaults to ``fine_every``, so a
    face first found by a fine pass is also redacted back to the fine-pass frame before it.
    """

    fine_every: int = 8
    fine_side: int = 1920
    fast_every: int = 2
    fast_side: int = 640
    fast_threshold: float = 0.3
    carry: int | None = None
    growth: float = 0.03

    def __post_init__(self) -> None:
        if self.fine_every < 1 or self.fast_every < 1 or self.fine_side < 32 or self.fast_side < 0:
            raise ValueError(f"invalid detection schedule: {self}")

    def pass_for(self, index: int) -> str | None:
        if index % self.fine_every == 0:
            return "fine"
        if self.fast_side and index % self.fast_every == 0:
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
        self.schedule = schedule
        self.encoder_settings = encoder
        self.carry = TemporalCarry(schedule.policy)
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
            for item, motion in _drain(decoded, reader):
                self.carry.moved(item.index, motion)
                if sink is None:  # opened here, not in the writer, so the temporary file is ours alone
                    sink = VideoSink(self.temporary, self.source, item.frame, **self.encoder_settings)
                    self.pix_fmt = sink.pix_fmt
                    writer = _Worker(self._write, encoded, sink)
                    writer.start()
                kind = self.schedule.pass_for(item.index)
                job = detector.submit(item.frame, kind) if kind else None
                waiting.append((item, kind, job))
                self._observe(waiting, settled, block=len(waiting) > IN_FLIGHT)
                self._emit(settled, encoded, writer, final=False)
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
            motion = IDENTITY if previous is None else estimate_motion(previous, gray, scale)
            previous = gray
            if not self._offer(out, (item, motion)):
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
        width, height = frame.width, frame.height
        side = self.schedule.fine_side if kind == "fine" else self.schedule.fast_side
        scale = min(1.0, side / max(width, height))
        small_w, small_h = max(2, round(width * scale)), max(2, round(height * scale))
        rgb = frame.to_ndarray(width=small_w, height=small_h, format="rgb24", interpolation="AREA")
        turns = round(frame.rotation / 90) % 4  # upright for the detector, as a player would show it
        upright = np.ascontiguousarray(np.rot90(rgb, turns))
        found = self.anonymizer.detect(upright, multiscale=False)
        return unrotate(found, turns, small_w, small_h).scaled(width / small_w, height / small_h).clipped(width, height)

    # -- calling thread
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
            boxes = self.carry.resolve(item.index)
            frame, regions = redact_frame(self.anonymizer.redactor, self._encodable(item.frame), boxes)
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


def redact_frame(redactor: Redactor, frame: av.VideoFrame, boxes: Detections) -> tuple[av.VideoFrame, list[Region]]:
    """The frame with every box redacted, and the regions redacted.

    The frame must be in a planar format (every encoder's input format is). Only the samples whose
    pixels the redactor changed are written back, so the rest of the picture keeps its decoded values
    exactly instead of going through a lossy YUV -> RGB -> YUV round trip.
    """
    if not len(boxes):
        return frame, []
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


# AVColorSpace of a frame -> the swscale colorspace PyAV's reformat takes, so the redacted pixels go
# back into YUV with the matrix the decoder used to take them out.
_SWS_COLORSPACE = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "SMPTE170M", 7: "SMPTE240M", 9: "BT2020", 10: "BT2020"}


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
