"""Ground-truth readers for the photo benchmark's two sets (paths under ../shared/data, never copied)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

WIDER_DIR = "wider_face_val_subset"
MASK_DIR = "face_mask_detection_853"
SETTINGS = ("easy", "medium", "hard")


@dataclass(frozen=True)
class GroundTruth:
    path: Path
    boxes: np.ndarray  # (M, 4) float64 x1, y1, x2, y2: every annotated face
    kept: dict[str, np.ndarray] = field(default_factory=dict)  # WIDER setting -> (M,) bool

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"


def wider_images(data: Path) -> list[GroundTruth]:
    """The WIDER FACE val images present in the subset, with official GT and easy/medium/hard kept faces."""
    from scipy.io import loadmat

    root = data / WIDER_DIR
    gt_dir = root / "ground_truth"
    full = loadmat(gt_dir / "wider_face_val.mat")
    subsets = {s: loadmat(gt_dir / f"wider_{s}_val.mat")["gt_list"] for s in SETTINGS}
    out = []
    for e, event in enumerate(full["event_list"]):
        event_name = str(event[0][0])
        event_dir = root / "images" / event_name
        if not event_dir.is_dir():
            continue
        for i, entry in enumerate(full["file_list"][e][0]):
            path = event_dir / f"{entry[0][0]}.jpg"
            if not path.is_file():
                continue
            xywh = full["face_bbx_list"][e][0][i][0].astype(np.float64).reshape(-1, 4)
            boxes = np.column_stack([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]])
            kept = {}
            for setting, gt_list in subsets.items():
                mask = np.zeros(len(boxes), bool)
                indices = gt_list[e][0][i][0].reshape(-1).astype(np.int64)
                mask[indices - 1] = True
                kept[setting] = mask
            out.append(GroundTruth(path, boxes, kept))
    return sorted(out, key=lambda g: g.name)


def mask_images(data: Path) -> list[GroundTruth]:
    """The Face Mask Detection images present, with every VOC box (all classes are faces)."""
    root = data / MASK_DIR
    out = []
    for xml in (root / "annotations").glob("*.xml"):
        tree = ET.parse(xml).getroot()
        path = root / "images" / tree.findtext("filename")
        if not path.is_file():
            continue
        boxes = [[float(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")] for obj in tree.iter("object")]
        out.append(GroundTruth(path, np.asarray(boxes, np.float64).reshape(-1, 4)))
    return sorted(out, key=lambda g: int(re.sub(r"\D", "", g.path.stem) or 0))


LABELS = {  # WIDER FACE attribute labels worth naming for a face a benchmark reports
    "blur": {1: "blurred", 2: "heavily blurred"},
    "occlusion": {1: "partly occluded", 2: "heavily occluded"},
    "pose": {1: "atypical pose"},
    "illumination": {1: "extreme illumination"},
    "invalid": {1: "invalid"},
}


def wider_labels(data: Path) -> dict[str, dict[str, np.ndarray]]:
    """WIDER's per-face attribute labels (blur, occlusion, pose, ...) by image name (``event/file.jpg``)."""
    from scipy.io import loadmat

    full = loadmat(data / WIDER_DIR / "ground_truth" / "wider_face_val.mat")
    out = {}
    for e, event in enumerate(full["event_list"]):
        for i, entry in enumerate(full["file_list"][e][0]):
            name = f"{event[0][0]}/{entry[0][0]}.jpg"
            out[name] = {key: full[f"{key}_label_list"][e][0][i][0].reshape(-1) for key in LABELS}
    return out


def describe_face(labels: dict[str, np.ndarray] | None, i: int) -> str:
    """WIDER's labels of face ``i`` in words (e.g. "blurred, atypical pose"), "clear" when none applies."""
    if labels is None:
        return "?"
    words = [LABELS[key].get(int(values[i])) for key, values in labels.items() if i < len(values)]
    return ", ".join(w for w in words if w) or "clear"
