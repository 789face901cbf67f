"""What the reliability tests share: the corpus tool (tools/make_fault_corpus.py), how to run ``veil``
as a real process, and how to check an output."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
# The installed ``veil`` script does exactly this; going through sys.executable needs no PATH.
VEIL = [sys.executable, "-c", "import sys; from veil.cli import main; sys.exit(main())"]
HIDDEN_MAX = 40  # solid fill is black; lossy codecs and palettes move it a little


def _load_tool():
    spec = importlib.util.spec_from_file_location("make_fault_corpus", ROOT / "tools" / "make_fault_corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


corpus_tool = _load_tool()


@dataclass(frozen=True)
class CorpusRun:
    source: Path
    output: Path
    returncode: int
    stderr: list[str]
    records: dict[str, dict]  # by input file name


def decode_all(path: Path, kind: str) -> list[np.ndarray]:
    """Every frame of a file as RGB; raises if any part of it is missing or corrupt."""
    if kind == "image":
        with Image.open(path) as image, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's advice about palette transparency
            image.load()
            return [np.asarray(image.convert("RGB"))]
    import av

    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def hidden(frame: np.ndarray, box) -> bool:
    """Whether the middle of a face box is covered by the (black) solid fill."""
    x1, y1, x2, y2 = (int(v) for v in box)
    cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
    rx, ry = max(1, (x2 - x1) // 5), max(1, (y2 - y1) // 5)
    return int(frame[max(0, cy - ry) : cy + ry + 1, max(0, cx - rx) : cx + rx + 1].max()) <= HIDDEN_MAX


def leftovers(folder: Path) -> list[str]:
    """Names of hidden (temporary) files anywhere under ``folder``."""
    return sorted(p.name for p in folder.rglob(".*"))
