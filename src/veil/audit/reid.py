"""Re-identification attack: embed a face at a known place and compare it with reference faces.

The attacker is dlib's ResNet face-recognition model (128-d, same person below Euclidean distance 0.6),
aligned by dlib's 5-point landmark model. Both files come from the ``face-recognition-models`` wheel and
are sha256-verified by the model registry; ``face_recognition_models`` itself is never imported (it
needs ``pkg_resources``). An off-the-shelf recognizer is a lower bound on what an attacker can do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from veil.jobs import IMAGE_EXTENSIONS
from veil.errors import InvalidInputError, ModelError
from veil.models import get_model

MODEL_NAME = "dlib-resnet"
LANDMARKS_NAME = "dlib-shape5"
MATCH_DISTANCE = 0.6  # dlib's own decision threshold for "same person"

# dlib's landmark model was trained on boxes from dlib's detector: square, from the brows to the chin.
# A CenterFace/RetinaFace box (forehead to chin, taller than wide) maps onto it as measured on 199 LFW
# faces: same centre shifted down 4% of the height, side = mean of 1.12 x width and 0.82 x height.
_DY, _KW, _KH = 0.04, 1.12, 0.82


def dlib_box(box: Iterable[float]) -> tuple[int, int, int, int]:
    """A detector face box (x1, y1, x2, y2) converted to the square box dlib's models expect."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2 + _DY * h
    side = round((_KW * w + _KH * h) / 2)
    left, top = round(cx - side / 2), round(cy - side / 2)
    return left, top, left + side, top + side


class Embedder:
    """128-d dlib face descriptors of faces at given boxes."""

    threshold = MATCH_DISTANCE

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError:
            raise ModelError("re-identification needs dlib: pip install 'veil[audit]'") from None
        self.model = get_model(MODEL_NAME)
        self.landmarks = get_model(LANDMARKS_NAME)
        self._dlib = dlib
        self._shape = dlib.shape_predictor(str(self.landmarks.path))
        self._net = dlib.face_recognition_model_v1(str(self.model.path))

    def embed(self, rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N, 128) float32 descriptors for the faces at ``boxes`` ((N, 4) detector-style xyxy)."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        if len(boxes) == 0:
            return np.zeros((0, 128), np.float32)
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        shapes = self._dlib.full_object_detections()
        for box in boxes:
            shapes.append(self._shape(rgb, self._dlib.rectangle(*dlib_box(box))))
        return np.asarray(self._net.compute_face_descriptor(rgb, shapes), np.float32).reshape(-1, 128)


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance matrix between the rows of ``a`` (N, D) and ``b`` (M, D)."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)


@dataclass(frozen=True)
class Gallery:
    """Reference faces of known people: one embedding per photo, labelled by identity."""

    labels: list[str]
    files: list[str]
    embeddings: np.ndarray  # (K, 128)

    def nearest(self, embedding: np.ndarray) -> tuple[str, float, str]:
        """(identity, distance, file) of the closest reference face."""
        d = distances(embedding[None], self.embeddings)[0]
        best = int(np.argmin(d))
        return self.labels[best], float(d[best]), self.files[best]




def build_gallery(folder: Path, embedder: Embedder, detect, load) -> Gallery:
    """Embed the largest face of every photo under ``folder``.

    The identity is the photo's sub-folder name (``folder/Ada/1.jpg`` -> ``Ada``) or, for photos directly
    in ``folder``, the file stem. ``detect(rgb) -> Detections`` and ``load(path) -> rgb`` are injected so
    the gallery uses the audit's own detector and image reader.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInputError(f"gallery {folder} is not a folder")
    labels, files, rows = [], [], []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS):
        rgb = load(path)
        faces = detect(rgb)
        if len(faces) == 0:
            continue
        largest = int(np.argmax(faces.widths * faces.heights))
        rows.append(embedder.embed(rgb, faces.boxes[largest : largest + 1])[0])
        relative = path.relative_to(folder)
        labels.append(relative.parts[0] if len(relative.parts) > 1 else path.stem)
        files.append(str(path))
    if not rows:
        raise InvalidInputError(f"gallery {folder}: no face found in any photo")
    return Gallery(labels, files, np.stack(rows))
