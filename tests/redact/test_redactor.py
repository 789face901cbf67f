import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from synthetic import ASTRONAUT_FACE, astronaut, detail

from veil.detections import Detections
from veil.redact import Redactor
from veil.redact.regions import grow, shape_mask


def faces(*boxes):
    return Detections(np.asarray(boxes, np.float32), np.ones(len(boxes), np.float32))


def inscribed_ellipse(box, shape):
    """Pixels whose centre lies inside the ellipse inscribed in ``box`` (float x1, y1, x2, y2)."""
    x1, y1, x2, y2 = box
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]] + 0.5
    cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
    return ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0


@pytest.mark.parametrize("mode", ["blur", "pixelate", "solid"])
def test_astronaut_face_loses_its_detail(mode):
    image = astronaut()
    out, regions = Redactor(mode=mode).apply(image, faces(ASTRONAUT_FACE))
    x1, y1, x2, y2 = ASTRONAUT_FACE
    face_out = out[y1 + 20 : y2 - 20, x1 + 20 : x2 - 20]
    if mode == "pixelate":  # a mosaic of at most ~8x8 flat blocks across the face
        assert len(np.unique(face_out.reshape(-1, 3), axis=0)) <= 100
    else:
        assert detail(face_out.mean(axis=2)) < 0.15 * detail(image[y1 + 20 : y2 - 20, x1 + 20 : x2 - 20].mean(axis=2))
    assert len(regions) == 1 and regions[0].shape == "ellipse"


def test_input_is_not_modified():
    image = astronaut()
    copy = image.copy()
    Redactor().apply(image, faces(ASTRONAUT_FACE))
    np.testing.assert_array_equal(image, copy)


@pytest.mark.parametrize("shape", ["ellipse", "box"])
def test_solid_edges_are_opaque_and_outside_is_untouched(shape):
    image = np.full((200, 300, 3), 200, np.uint8)
    out, (region,) = Redactor(mode="solid", shape=shape, mask_scale=1.0).apply(image, faces((50, 40, 150, 160)))
    changed = (out != image).any(axis=2)
    # Every changed pixel is fully black (no blending at the edge) and lies inside the reported box.
    assert (out[changed] == 0).all()
    x1, y1, x2, y2 = region.box
    assert not changed[:y1].any() and not changed[y2:].any() and not changed[:, :x1].any() and not changed[:, x2:].any()


def test_ellipse_covers_the_inscribed_ellipse():
    image = np.full((200, 300, 3), 255, np.uint8)
    box = (50.3, 40.7, 150.2, 160.9)
    out, _ = Redactor(mode="solid", mask_scale=1.0).apply(image, faces(box))
    grown = grow(np.array(box), 1.0)
    inside = inscribed_ellipse(grown, image.shape)
    assert (out[inside] == 0).all()


def test_mask_scale_below_one_is_refused():
    with pytest.raises(ValueError, match="mask scale"):
        Redactor(mask_scale=0.9)


def test_unknown_mode_and_shape():
    with pytest.raises(ValueError):
        Redactor(mode="swirl")
    with pytest.raises(ValueError):
        Redactor(shape="star")


def test_sixteen_bit_images():
    image = (np.random.default_rng(0).integers(0, 65535, (120, 120, 3))).astype(np.uint16)
    out, regions = Redactor().apply(image, faces((30, 30, 90, 90)))
    assert out.dtype == np.uint16 and len(regions) == 1
    assert detail(out[40:80, 40:80].mean(axis=2)) < 0.2 * detail(image[40:80, 40:80].mean(axis=2))


def test_tiny_faces_are_still_changed():
    image = np.random.default_rng(1).integers(0, 255, (50, 50, 3), dtype=np.uint8)
    for mode in ("blur", "pixelate"):
        out, _ = Redactor(mode=mode).apply(image, faces((20, 20, 26, 27)))
        assert (out[21:26, 21:25] != image[21:26, 21:25]).any(axis=2).mean() > 0.8


def test_region_sources_are_kept():
    d = Detections([[10, 10, 40, 40]], [0.5], ["track"])
    _, (region,) = Redactor().apply(np.zeros((60, 60, 3), np.uint8), d)
    assert region.source == "track" and region.to_dict()["source"] == "track"


boxes = st.tuples(
    st.floats(-60, 250), st.floats(-60, 190), st.floats(2, 120), st.floats(2, 120)
).map(lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3]))


@settings(max_examples=150, deadline=None)
@given(box=boxes, shape=st.sampled_from(["ellipse", "box"]), mask_scale=st.floats(1.0, 2.0))
def test_every_face_pixel_is_covered_even_across_the_border(box, shape, mask_scale):
    """Property: with solid fill, every pixel of the (grown) face shape inside the image is redacted,
    and nothing outside the reported region changes."""
    image = np.full((180, 240, 3), 255, np.uint8)
    out, regions = Redactor(mode="solid", shape=shape, mask_scale=mask_scale).apply(image, faces(box))
    grown = grow(np.array(box), mask_scale)
    if shape == "ellipse":
        inside = inscribed_ellipse(grown, image.shape)
    else:
        ys, xs = np.mgrid[0:180, 0:240] + 0.5
        inside = (xs >= grown[0]) & (xs <= grown[2]) & (ys >= grown[1]) & (ys <= grown[3])
    assert (out[inside] == 0).all()
    changed = (out != 255).any(axis=2)
    allowed = np.zeros_like(changed)
    for r in regions:
        x1, y1, x2, y2 = r.box
        assert 0 <= x1 < x2 <= 240 and 0 <= y1 < y2 <= 180
        allowed[y1:y2, x1:x2] = True
    assert not (changed & ~allowed).any()


def test_shape_mask_of_a_clipped_crop():
    mask = shape_mask("ellipse", (-10.0, -10.0, 30.0, 30.0), (0, 0, 30, 30))
    assert mask.shape == (30, 30) and mask[10, 10] and not mask[29, 29]


@settings(max_examples=200, deadline=None)
@given(st.floats(-50, 1500), st.floats(-50, 1000), st.floats(2, 900), st.floats(2, 900))
def test_shape_mask_covers_every_pixel_of_the_true_ellipse(x, y, width, height):
    """The mask is summed in float32; its rounding must never drop a pixel whose centre lies in the
    ellipse inscribed in the box (computed in float64), at any size or position."""
    box = (x, y, x + width, y + height)
    crop = (max(0, int(x)), max(0, int(y)), int(x + width) + 1, int(y + height) + 1)
    mask = shape_mask("ellipse", box, crop)
    true = inscribed_ellipse((x - crop[0], y - crop[1], x + width - crop[0], y + height - crop[1]), mask.shape)
    assert not (true & ~mask).any()
