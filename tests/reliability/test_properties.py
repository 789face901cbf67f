"""Issue 5, point 5: property-based tests of the geometry that decides what gets redacted, and of the
photo job end to end: whatever the image, every region veil finds is redacted in the file it writes."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from reliability_support import corpus_tool, decode_all, hidden

from veil.detect.multiscale import _grid
from veil.detections import Detections
from veil.photo import anonymize_photo
from veil.pipeline import Anonymizer


@settings(max_examples=200, deadline=None)
@given(width=st.integers(1, 3000), height=st.integers(1, 3000), tile=st.integers(32, 700), margin=st.integers(4, 64),
       data=st.data())
def test_tiles_cover_the_image_and_hold_every_small_face_whole(width, height, tile, margin, data):
    tiles = _grid(width, height, tile, margin)
    assert all(0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height for x1, y1, x2, y2 in tiles)
    covered = np.zeros((height, width), bool)
    for x1, y1, x2, y2 in tiles:
        covered[y1:y2, x1:x2] = True
    assert covered.all()
    side = data.draw(st.integers(1, margin))  # a face no larger than the overlap is whole in some tile
    fx, fy = data.draw(st.integers(0, max(0, width - side))), data.draw(st.integers(0, max(0, height - side)))
    fx2, fy2 = min(width, fx + side), min(height, fy + side)
    assert any(x1 <= fx and fx2 <= x2 and y1 <= fy and fy2 <= y2 for x1, y1, x2, y2 in tiles)


coords = st.floats(-500, 1500, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(boxes=st.lists(st.tuples(coords, coords, st.floats(0.5, 400), st.floats(0.5, 400)), max_size=8),
       width=st.integers(1, 1000), height=st.integers(1, 1000), scale=st.floats(0.1, 10))
def test_scaling_and_clipping_never_lose_a_face_pixel_inside_the_frame(boxes, width, height, scale):
    found = Detections(np.asarray([(x, y, x + w, y + h) for x, y, w, h in boxes], np.float32).reshape(-1, 4),
                       np.ones(len(boxes), np.float32))
    round_trip = found.scaled(scale).scaled(1 / scale)
    np.testing.assert_allclose(round_trip.boxes, found.boxes, rtol=1e-4, atol=1e-2)
    clipped = found.clipped(width, height)
    inside = [(max(0, x1), max(0, y1), min(width, x2), min(height, y2)) for x1, y1, x2, y2 in found.boxes.tolist()]
    inside = [b for b in inside if b[2] > b[0] and b[3] > b[1]]
    np.testing.assert_array_equal(clipped.boxes, np.asarray(inside, np.float32).reshape(-1, 4))


@pytest.fixture(scope="module")
def solid() -> Anonymizer:
    return Anonymizer(mode="solid")


FORMATS = {  # name: (suffix, how to write an RGB array)
    "png-rgb": (".png", lambda rgb: _save(Image.fromarray(rgb), "PNG")),
    "jpeg": (".jpg", lambda rgb: _save(Image.fromarray(rgb), "JPEG", quality=90)),
    "png-palette": (".png", lambda rgb: _save(Image.fromarray(rgb).quantize(256), "PNG")),
    "tiff-cmyk": (".tif", lambda rgb: _save(Image.fromarray(rgb).convert("CMYK"), "TIFF")),
    "png-grey16": (".png", lambda rgb: _save(Image.fromarray(np.asarray(Image.fromarray(rgb).convert("L"))
                                                              .astype(np.uint16) * 257), "PNG")),
    "webp-rgba": (".webp", lambda rgb: _save(Image.fromarray(np.dstack((rgb, np.full(rgb.shape[:2], 255, np.uint8)))),
                                             "WEBP", lossless=True)),
}


def _save(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(sorted(FORMATS)), width=st.integers(64, 420), height=st.integers(64, 420),
       scale=st.floats(0.3, 1.5), x=st.floats(-0.3, 0.7), y=st.floats(-0.3, 0.7), background=st.integers(0, 255))
def test_every_region_found_is_redacted_in_the_written_file(solid, fmt, width, height, scale, x, y, background):
    """Heads of any size, anywhere (partly outside too), in any format and mode: each region the manifest
    record lists is covered in the decoded output, and the output is whole and upright-sized."""
    head = Image.fromarray(corpus_tool.head())
    head = np.asarray(head.resize((max(1, round(head.width * scale)), max(1, round(head.height * scale)))))
    canvas = np.full((height, width, 3), background, np.uint8)
    left, top = round(x * width), round(y * height)
    src_x, src_y = max(0, -left), max(0, -top)
    dst_x, dst_y = max(0, left), max(0, top)
    w, h = min(head.shape[1] - src_x, width - dst_x), min(head.shape[0] - src_y, height - dst_y)
    if w > 0 and h > 0:
        canvas[dst_y : dst_y + h, dst_x : dst_x + w] = head[src_y : src_y + h, src_x : src_x + w]
    suffix, encode = FORMATS[fmt]
    with tempfile.TemporaryDirectory() as folder:
        src, dst = Path(folder) / f"in{suffix}", Path(folder) / "out" / f"out{suffix}"
        src.write_bytes(encode(canvas))
        record = anonymize_photo(src, dst, solid)
        (frame,) = decode_all(dst, "image")
    assert frame.shape[:2] == (height, width) == (record["height"], record["width"])
    for region in record["regions"]:
        x1, y1, x2, y2 = region["box"]
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        assert hidden(frame, region["box"])
