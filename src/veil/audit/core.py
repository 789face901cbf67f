"""Audit anonymized photos and videos: residual faces and a re-identification attack, frame by frame."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import cv2
import numpy as np

from veil.audit.frames import Frame, is_video, iter_frames, load_rgb
from veil.audit.manifest import Manifest, ManifestRecord, parse_record
from veil.audit.reid import MATCH_DISTANCE, Embedder, Gallery, build_gallery, distances
from veil.audit.report import AttackResult, AuditReport, FileReport, ResidualFinding
from veil.audit.residual import DEFAULT_COVERAGE, DEFAULT_THRESHOLD, Redacted, ResidualScanner, coverage
from veil.detections import box_iou
from veil.errors import InvalidInputError, VeilError
from veil.models import ModelSpec, sha256_file

# Without a manifest, a face box whose pixels differ from the original by at least this mean absolute
# value (0-255) counts as redacted; JPEG re-encoding alone stays far below it, any veil mode far above.
CHANGED = 12.0
SAME_FACE_IOU = 0.3
THUMBNAIL_SIDE = 96


@dataclass(frozen=True)
class AuditOptions:
    threshold: float = DEFAULT_THRESHOLD  # residual detector score threshold
    coverage: float = DEFAULT_COVERAGE  # share of a face box that must lie in a redacted region
    match_distance: float = MATCH_DISTANCE  # dlib distance under which two faces are the same person
    sample_fps: float = 2.0  # video frames audited per second of video (0 = every frame)
    thumbnails: bool = True  # crops of flagged faces in the HTML report (they may show a face!)


def audit_paths(
    paths: Sequence[str | Path],
    *,
    originals: Sequence[str | Path | None] | None = None,
    gallery: str | Path | None = None,
    manifest: str | Path | Manifest | Sequence[dict] | None = None,
    options: AuditOptions | None = None,
) -> AuditReport:
    """Audit anonymized files.

    ``originals`` (same length and order as ``paths``; None entries allowed) are the files before
    anonymization; ``gallery`` is a folder of reference photos; ``manifest`` is a manifest path, a
    :class:`Manifest`, or the manifest records as dicts (what the pipeline writes). A file that cannot
    be read gets verdict "error", which fails ``report.ok`` like any finding.
    """
    options = options or AuditOptions()
    if originals is not None and len(originals) != len(paths):
        raise InvalidInputError(f"{len(paths)} files but {len(originals)} originals")
    if manifest is not None and not isinstance(manifest, Manifest):
        manifest = Manifest.read(Path(manifest)) if isinstance(manifest, (str, Path)) else Manifest(
            [parse_record(r) for r in manifest]
        )
    scanner = ResidualScanner(options.threshold, options.coverage)
    models = [scanner.model]
    embedder = references = None
    if gallery is not None or (originals is not None and any(o is not None for o in originals)):
        embedder = Embedder()
        models += [embedder.landmarks, embedder.model]
        if gallery is not None:
            references = build_gallery(Path(gallery), embedder, scanner.detect, load_rgb)

    auditor = _Auditor(options, scanner, embedder, references, manifest)
    files = [auditor.audit(Path(p), None if originals is None else originals[i]) for i, p in enumerate(paths)]
    auditor.rank_against_originals()
    settings = asdict(options) | {
        "gallery": None if gallery is None else str(gallery),
        "gallery_faces": None if references is None else len(references.labels),
        "manifest_records": None if manifest is None else len(manifest.records),
        "residual_detector": scanner.model.name,
        "embedding_model": None if embedder is None else embedder.model.name,
    }
    return AuditReport(
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        veil_version=_version("veil"),
        settings=settings,
        models=[_model_info(m) for m in models],
        files=files,
    )


class _Auditor:
    def __init__(self, options: AuditOptions, scanner: ResidualScanner, embedder: Embedder | None,
                 gallery: Gallery | None, manifest: Manifest | None):
        self.options = options
        self.scanner = scanner
        self.embedder = embedder
        self.gallery = gallery
        self.manifest = manifest
        self._pairs: list[tuple[AttackResult, np.ndarray, np.ndarray]] = []  # for rank-1 across the run

    def audit(self, path: Path, original: str | Path | None) -> FileReport:
        report = FileReport(path=str(path), kind="video" if is_video(path) else "image")
        try:
            report.sha256 = sha256_file(path)
            record = self._manifest_entry(path, report)
            if original is not None:
                original = Path(original)
                report.original = {"path": str(original), "sha256": sha256_file(original)}
            elif self.embedder is not None and self.gallery is None:
                report.notes.append("no original given: re-identification not run for this file")
            if record is None and original is None:
                report.notes.append("no manifest record and no original: every face seen is reported")
            originals = _Cursor(iter_frames(original, self.options.sample_fps)) if original is not None else None
            for frame in iter_frames(path, self.options.sample_fps):
                before = originals.at(frame.index) if originals is not None else None
                if before is not None and before.rgb.shape != frame.rgb.shape:
                    raise InvalidInputError(
                        f"original {original} is {before.rgb.shape[1]}x{before.rgb.shape[0]}, "
                        f"the output {frame.rgb.shape[1]}x{frame.rgb.shape[0]}"
                    )
                self._audit_frame(frame, before, record, report)
                report.height, report.width = frame.rgb.shape[:2]
                report.frames_audited += 1
        except (VeilError, OSError) as exc:
            report.error = str(exc) if isinstance(exc, VeilError) else f"{exc.strerror or exc}: {path}"
        return report

    def _manifest_entry(self, path: Path, report: FileReport) -> ManifestRecord | None:
        if self.manifest is None:
            return None
        record, sha_match = self.manifest.find(path, report.sha256)
        if record is None:
            report.notes.append("not in the manifest")
            return None
        report.manifest = {
            "input": record.input,
            "output_sha256_match": sha_match,
            "regions": int(sum(len(r) for r in record.regions.values())),
        }
        if record.model == self.scanner.model.name:
            report.notes.append(f"redacted with {record.model}, the audit's own detector: the residual scan is not independent")
        # Regions are only trusted for the very file they were recorded for: a changed file, or one
        # matched by name alone, is scanned as if nothing had been redacted.
        exact = record.output is not None and Path(record.output).resolve() == path.resolve()
        if sha_match is True or (sha_match is None and exact):
            return record
        report.notes.append("manifest regions not used: the record does not verifiably belong to this file")
        return None

    def _audit_frame(self, frame: Frame, before: Frame | None, record: ManifestRecord | None, report: FileReport) -> None:
        out = frame.rgb
        regions = record.regions_at(frame.index) if record is not None else Redacted()
        seen = self.scanner.see(out)
        covered = self._covered(seen.boxes, regions, out, before if record is None else None)
        for residual in self.scanner.residuals(out, seen, covered, regions):
            finding = ResidualFinding(
                id=f"r{len(report.residuals) + 1}-f{frame.index}", frame=frame.index, time=frame.time,
                box=_rounded(residual.box), score=round(residual.score, 4), coverage=round(residual.coverage, 3),
                confirmation=round(residual.confirmation, 4), rotation=residual.rotation,
            )
            report.residuals.append(finding)
            self._thumbnail(report, finding.id, out, np.asarray(residual.box))
        if self.embedder is None or (before is None and self.gallery is None):
            return
        places, kinds = self._places(regions, record, seen.boxes, out, before)
        if len(places) == 0:
            return
        attacked = self.embedder.embed(out, places)
        references = self.embedder.embed(before.rgb, places) if before is not None else None
        for i, (box, kind) in enumerate(zip(places, kinds)):
            result = AttackResult(
                id=f"a{len(report.attacks) + 1}-f{frame.index}", frame=frame.index, time=frame.time,
                box=_rounded(box), place=kind,
            )
            if references is not None:
                d = float(np.linalg.norm(attacked[i] - references[i]))
                result.distance_original = round(d, 4)
                result.match_original = d < self.options.match_distance
                self._pairs.append((result, attacked[i], references[i]))
            if self.gallery is not None:
                identity, d, _file = self.gallery.nearest(attacked[i])
                result.gallery_identity = identity
                result.gallery_distance = round(d, 4)
                result.match_gallery = d < self.options.match_distance
            report.attacks.append(result)
            if result.flagged:
                self._thumbnail(report, result.id, out, box)

    def _covered(self, boxes: np.ndarray, regions: Redacted, out: np.ndarray, before: Frame | None) -> np.ndarray:
        """Per face box, the share inside a redacted region; without a manifest, 1 where the pixels changed."""
        cover = coverage(boxes, regions)
        if before is not None:
            changed = np.array([_changed(out, before.rgb, box) >= CHANGED for box in boxes], bool).reshape(-1)
            cover = np.where(changed, 1.0, cover)
        return cover

    def _places(self, regions: Redacted, record: ManifestRecord | None, seen: np.ndarray, out: np.ndarray,
                before: Frame | None) -> tuple[np.ndarray, list[str]]:
        """Face boxes to attack, and what each is: "region" (redacted), "original" (not redacted), "visible".

        With the original, the places are the faces the independent detector finds in it (a redacted
        region where it sees no face is not a face to re-identify: comparing two versions of a patch of
        background or a false detection says nothing about identity), plus faces visible in the output.
        Without it (gallery only) they are the redacted regions, shrunk back from the mask scale to the
        face box, plus the faces visible in the output.
        """
        boxes: list[np.ndarray] = []
        kinds: list[str] = []
        if before is not None:
            faces = self.scanner.detect(before.rgb).boxes
            redacted = self._covered(faces, regions, out, before if record is None else None) >= self.options.coverage
            boxes += list(faces)
            kinds += ["region" if r else "original" for r in redacted]
        else:
            scale = record.mask_scale if record is not None else 1.0
            boxes += [_shrunk(region, scale) for region in regions.boxes]
            kinds += ["region"] * len(regions)
        for box in seen:
            if not boxes or box_iou(np.asarray(box)[None], np.asarray(boxes)).max() < SAME_FACE_IOU:
                boxes.append(box)
                kinds.append("visible")
        return np.asarray(boxes, np.float32).reshape(-1, 4), kinds

    def rank_against_originals(self) -> None:
        """Rank-1 identification: is a face's own original the nearest among all original faces?"""
        if len(self._pairs) < 2:
            return
        attacked = np.stack([p[1] for p in self._pairs])
        originals = np.stack([p[2] for p in self._pairs])
        nearest = distances(attacked, originals).argmin(axis=1)
        for i, (result, _, _) in enumerate(self._pairs):
            result.rank1 = bool(nearest[i] == i)

    def _thumbnail(self, report: FileReport, key: str, rgb: np.ndarray, box: np.ndarray) -> None:
        if self.options.thumbnails:
            report.thumbnails[key] = thumbnail(rgb, box)


class _Cursor:
    """Walks the original's frames in step with the output's, by frame index."""

    def __init__(self, frames: Iterator[Frame]):
        self._frames = frames
        self._current: Frame | None = None

    def at(self, index: int) -> Frame | None:
        while self._current is None or self._current.index < index:
            self._current = next(self._frames, None)
            if self._current is None:
                return None
        return self._current if self._current.index == index else None


def thumbnail(rgb: np.ndarray, box: np.ndarray) -> str:
    """A small JPEG of the box (with 20% context) as a data: URI."""
    height, width = rgb.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    mx, my = 0.2 * (x2 - x1), 0.2 * (y2 - y1)
    crop = rgb[max(0, int(y1 - my)) : min(height, int(y2 + my) + 1), max(0, int(x1 - mx)) : min(width, int(x2 + mx) + 1)]
    if crop.size == 0:
        crop = np.zeros((8, 8, 3), np.uint8)
    scale = THUMBNAIL_SIDE / max(crop.shape[:2])
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    _, data = cv2.imencode(".jpg", np.ascontiguousarray(crop[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii")


def _changed(out: np.ndarray, before: np.ndarray, box: np.ndarray) -> float:
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    a = out[y1:y2, x1:x2].astype(np.int16)
    b = before[y1:y2, x1:x2].astype(np.int16)
    return float(np.abs(a - b).mean()) if a.size else 0.0


def _shrunk(region: np.ndarray, scale: float) -> np.ndarray:
    cx, cy = (region[0] + region[2]) / 2, (region[1] + region[3]) / 2
    hw, hh = (region[2] - region[0]) / (2 * scale), (region[3] - region[1]) / (2 * scale)
    return np.array([cx - hw, cy - hh, cx + hw, cy + hh], np.float32)


def _rounded(box) -> list[float]:
    return [round(float(v), 1) for v in box]


def _model_info(spec: ModelSpec) -> dict:
    return {
        "name": spec.name,
        "task": spec.task,
        "package": spec.package,
        "installed": _version(spec.package.split("==")[0]),
        "resource": spec.resource,
        "sha256": spec.sha256,  # verified when the model was loaded
        "module": spec.module,
        "license": spec.license,
        "description": spec.description,
    }


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None
