"""Reading veil's JSONL manifest: which regions of which output were redacted, per frame."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from veil.audit.residual import Redacted
from veil.errors import InvalidInputError


@dataclass(frozen=True)
class ManifestRecord:
    input: str | None
    output: str | None
    output_sha256: str | None
    regions: dict[int, Redacted]  # frame index (0 for a photo) -> what was redacted in it
    settings: dict = field(default_factory=dict)
    model: str | None = None  # the detector that found the redacted faces

    def regions_at(self, frame: int) -> Redacted:
        return self.regions.get(frame, Redacted())

    @property
    def mask_scale(self) -> float:
        return float(self.settings.get("mask_scale", 1.3))


def parse_record(obj: dict) -> ManifestRecord:
    """One manifest object (photo: ``regions``; video: ``frames`` of ``{index, pts, regions}``)."""
    if not isinstance(obj, dict):
        raise InvalidInputError("manifest line is not a JSON object")
    frames = obj.get("frames")
    per_frame = {0: obj.get("regions", [])} if frames is None else {int(f["index"]): f.get("regions", []) for f in frames}
    regions = {
        index: Redacted([r["box"] for r in found], [r.get("shape", "ellipse") == "ellipse" for r in found])
        for index, found in per_frame.items()
    }
    return ManifestRecord(
        input=obj.get("input"),
        output=obj.get("output"),
        output_sha256=obj.get("output_sha256"),
        regions=regions,
        settings=obj.get("settings") or {},
        model=(obj.get("model") or {}).get("name"),
    )


class Manifest:
    """All records of one or more manifests, looked up by output sha256 first and output path second."""

    def __init__(self, records: list[ManifestRecord]):
        self.records = records
        self._by_sha = {r.output_sha256: r for r in records if r.output_sha256}
        self._by_path = {_key(r.output): r for r in records if r.output}
        self._by_name = {Path(r.output).name: r for r in records if r.output}

    @classmethod
    def read(cls, path: Path) -> Manifest:
        records = []
        try:
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    if line.strip():
                        try:
                            records.append(parse_record(json.loads(line)))
                        except (ValueError, KeyError, TypeError) as exc:
                            raise InvalidInputError(f"manifest {path}, line {number}: {exc}") from None
        except OSError as exc:
            raise InvalidInputError(f"cannot read manifest {path}: {exc.strerror}") from None
        return cls(records)

    def by_path(self, output: Path) -> ManifestRecord | None:
        return self._by_path.get(_key(output)) or self._by_name.get(Path(output).name)

    def find(self, output: Path, sha256: str) -> tuple[ManifestRecord | None, bool | None]:
        """(record, whether its output_sha256 equals the file's; None when it records none)."""
        record = self._by_sha.get(sha256)
        if record is not None:
            return record, True
        record = self.by_path(output)
        if record is None or not record.output_sha256:
            return record, None
        return record, False


def _key(path: str | Path) -> str:
    return str(Path(path).resolve())
