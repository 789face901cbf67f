import numpy as np
import pytest
from synthetic import ASTRONAUT_FACE, astronaut

from veil.audit.frames import load_rgb
from veil.audit.reid import MATCH_DISTANCE, build_gallery, distances, dlib_box
from veil.detections import Detections
from veil.redact import Redactor


def test_dlib_box_is_square_and_centred_slightly_low():
    x1, y1, x2, y2 = dlib_box((0, 0, 100, 130))
    assert x2 - x1 == y2 - y1
    assert (y1 + y2) / 2 > 65


def test_distances():
    a = np.array([[0.0, 0.0], [3.0, 4.0]])
    np.testing.assert_allclose(distances(a, a), [[0, 5], [5, 0]])
    assert distances(a, np.zeros((0, 2))).shape == (2, 0)


def test_models_are_registered_with_checksums(embedder):
    assert embedder.model.name == "dlib-resnet" and len(embedder.model.sha256) == 64
    assert embedder.landmarks.path.name == "shape_predictor_5_face_landmarks.dat"


def test_redaction_defeats_the_attacker_and_the_raw_face_does_not(embedder):
    image = astronaut()
    face = np.array([ASTRONAUT_FACE], np.float32)
    redacted, _ = Redactor().apply(image, Detections(face, np.ones(1)))
    reference = embedder.embed(image, face)
    assert np.linalg.norm(embedder.embed(image, face) - reference) < 1e-4
    # the same face, slightly shifted and rescaled, is still the same person
    shifted = image[8:, 6:]
    assert np.linalg.norm(embedder.embed(shifted, face - [6, 8, 6, 8]) - reference) < MATCH_DISTANCE
    assert np.linalg.norm(embedder.embed(redacted, face) - reference) > MATCH_DISTANCE


def test_gallery_labels_come_from_folders_and_stems(tmp_path, embedder, scanner):
    from conftest import save

    (tmp_path / "Ada").mkdir()
    save(tmp_path / "Ada" / "1.png", astronaut())
    save(tmp_path / "grace.png", astronaut()[:, ::-1].copy())
    save(tmp_path / "empty.png", np.full((64, 64, 3), 90, np.uint8))
    gallery = build_gallery(tmp_path, embedder, scanner.detect, load_rgb)
    assert sorted(gallery.labels) == ["Ada", "grace"]
    identity, distance, _ = gallery.nearest(embedder.embed(astronaut(), np.array([ASTRONAUT_FACE]))[0])
    assert identity == "Ada" and distance < 0.2  # the gallery embeds at the detector's box


def test_empty_gallery_is_an_error(tmp_path, embedder, scanner):
    from veil.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        build_gallery(tmp_path, embedder, scanner.detect, None)
    with pytest.raises(InvalidInputError):
        build_gallery(tmp_path / "missing", embedder, scanner.detect, None)
