import numpy as np
from PIL import Image
from synthetic import ASTRONAUT_FACE, astronaut, detail

import veil


def covers_face(regions):
    fx1, fy1, fx2, fy2 = ASTRONAUT_FACE
    return any(x1 <= fx1 + 10 and y1 <= fy1 + 10 and x2 >= fx2 - 10 and y2 >= fy2 - 10 for x1, y1, x2, y2 in (r.box for r in regions))


def test_anonymize_image_from_array_path_and_pil(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(astronaut()).save(path)
    for source in (astronaut(), path, str(path), Image.open(path)):
        image, regions = veil.anonymize_image(source, mode="solid")
        assert image.shape == (512, 512, 3) and covers_face(regions)
        assert all(r.shape == "ellipse" for r in regions)


def test_anonymizer_reuses_its_session(anonymizer):
    first = anonymizer.anonymize(astronaut())
    second = anonymizer.anonymize(astronaut())
    np.testing.assert_array_equal(first.image, second.image)
    x1, y1, x2, y2 = ASTRONAUT_FACE
    assert detail(first.image[y1 + 20 : y2 - 20, x1 + 20 : x2 - 20].mean(2)) < 0.15 * detail(
        astronaut()[y1 + 20 : y2 - 20, x1 + 20 : x2 - 20].mean(2))


def test_settings_are_recorded(anonymizer):
    assert anonymizer.settings["detector"] == "centerface-int8"
    assert set(anonymizer.settings) >= {"threshold", "mode", "shape", "mask_scale"}


def test_sixteen_bit_frames_are_detected(anonymizer):
    image16 = astronaut().astype(np.uint16) * 257
    result = anonymizer.anonymize(image16)
    assert result.image.dtype == np.uint16 and covers_face(result.regions)


def test_no_faces_no_change(anonymizer):
    flat = np.full((300, 400, 3), 120, np.uint8)
    result = anonymizer.anonymize(flat)
    assert result.regions == [] and (result.image == flat).all()
