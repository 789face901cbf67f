"""The audit report: what was checked, what was found, and the verdict per file (JSON-serializable)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from veil.errors import OutputError


@dataclass
class ResidualFinding:
    """A face the independent detector saw outside every redacted region."""

    id: str
    frame: int
    time: float | None  # seconds (None for a photo)
    box: list[float]
    score: float
    coverage: float  # share of the face's eyes-to-mouth area inside the redacted areas
    confirmation: float  # detector score when re-detected at ~112 px face height, redacted areas hidden
    rotation: int = 0  # degrees counter-clockwise the frame was turned for the detector to see the face


@dataclass
class AttackResult:
    """The re-identification attack on one face place (a redacted region or a face seen in the output)."""

    id: str
    frame: int
    time: float | None  # seconds (None for a photo)
    box: list[float]  # the face box the attacker embedded, detector-style xyxy
    place: str  # "region" (redacted per manifest or diff), "original" (face in the original), "visible"
    distance_original: float | None = None
    match_original: bool | None = None
    rank1: bool | None = None  # nearest among all original faces of this audit is its own
    gallery_identity: str | None = None
    gallery_distance: float | None = None
    match_gallery: bool | None = None

    @property
    def flagged(self) -> bool:
        return bool(self.match_original) or bool(self.match_gallery)


@dataclass
class FileReport:
    path: str
    sha256: str | None = None
    kind: str = "image"
    width: int | None = None
    height: int | None = None
    frames_audited: int = 0
    original: dict | None = None  # {"path", "sha256"}
    manifest: dict | None = None  # {"input", "input_sha256", "output_sha256_match", "regions"}
    residuals: list[ResidualFinding] = field(default_factory=list)
    attacks: list[AttackResult] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    thumbnails: dict[str, str] = field(default_factory=dict)  # finding id -> data: URI; HTML only

    @property
    def reasons(self) -> list[str]:
        reasons = []
        if self.error:
            reasons.append(f"error: {self.error}")
        if self.manifest is not None and self.manifest.get("output_sha256_match") is False:
            reasons.append("file differs from the sha256 the manifest recorded for it")
        if self.residuals:
            reasons.append(f"{len(self.residuals)} face(s) visible outside redacted regions")
        matched = [a for a in self.attacks if a.match_original]
        if matched:
            reasons.append(f"{len(matched)} face(s) re-identified against the original")
        gallery = [a for a in self.attacks if a.match_gallery]
        if gallery:
            reasons.append(f"{len(gallery)} face(s) matched a gallery identity")
        return reasons

    @property
    def verdict(self) -> str:
        if self.error:
            return "error"
        return "fail" if self.reasons else "pass"

    def to_dict(self) -> dict:
        data = asdict(self)
        del data["thumbnails"]
        for attack, raw in zip(self.attacks, data["attacks"]):
            raw["flagged"] = attack.flagged
        data["verdict"] = self.verdict
        data["reasons"] = self.reasons
        return data


@dataclass
class AuditReport:
    created: str
    veil_version: str
    settings: dict
    models: list[dict]
    files: list[FileReport]

    @property
    def ok(self) -> bool:
        """True when every file passed: what ``--strict`` checks."""
        return all(f.verdict == "pass" for f in self.files)

    def summary(self) -> dict:
        attacks = [a for f in self.files for a in f.attacks]
        with_original = [a for a in attacks if a.distance_original is not None]
        ranked = [a for a in attacks if a.rank1 is not None]
        with_gallery = [a for a in attacks if a.gallery_distance is not None]
        return {
            "files": len(self.files),
            "passed": sum(f.verdict == "pass" for f in self.files),
            "failed": sum(f.verdict == "fail" for f in self.files),
            "errors": sum(f.verdict == "error" for f in self.files),
            "frames_audited": sum(f.frames_audited for f in self.files),
            "residual_faces": sum(len(f.residuals) for f in self.files),
            "faces_attacked": len(attacks),
            "verified_against_original": sum(bool(a.match_original) for a in with_original),
            "compared_with_original": len(with_original),
            "rank1_identified": sum(bool(a.rank1) for a in ranked),
            "rank1_candidates": len(ranked),
            "gallery_matches": sum(bool(a.match_gallery) for a in with_gallery),
            "compared_with_gallery": len(with_gallery),
        }

    def to_dict(self) -> dict:
        return {
            "tool": "veil audit",
            "veil_version": self.veil_version,
            "created": self.created,
            "ok": self.ok,
            "summary": self.summary(),
            "settings": self.settings,
            "models": self.models,
            "files": [f.to_dict() for f in self.files],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)


def write_text(path: Path, text: str) -> None:
    """Write a report atomically (temp file + rename), so a crash never leaves half a report."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"cannot write report {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write report {path}: {exc.strerror or exc}") from None
        raise
