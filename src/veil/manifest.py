"""The manifest: one JSON line per input, recording every redacted region (never pixels or embeddings)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import IO

import numpy as np

from veil.models import ModelSpec
from veil.redact import Region


def image_record(*, input: Path, output: Path | None, output_sha256: str | None, width: int, height: int,
                 model: ModelSpec, settings: dict, regions: list[Region], error: str | None = None) -> dict:
    record = {
        "input": str(input),
        "output": None if output is None else str(output),
        "output_sha256": output_sha256,
        "width": width,
        "height": height,
        "model": {"name": model.name, "sha256": model.sha256, "license": model.license},
        "settings": settings,
        "regions": [r.to_dict() for r in regions],
    }
    if error is not None:
        record["error"] = error
    return record


class ManifestWriter:
    """Appends records as JSON Lines; safe to share between threads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._file: IO[str] | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> ManifestWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", encoding="utf-8")
        return self

    def __exit__(self, *exc) -> None:
        assert self._file is not None
        self._file.close()

    def write(self, record: dict) -> None:
        assert self._file is not None, "use ManifestWriter as a context manager"
        line = json.dumps(record, default=_jsonable, separators=(",", ":"))
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_manifest(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
