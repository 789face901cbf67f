"""Image I/O: faithful round trips per format and mode, orientation, refusals and atomic writes."""

import io
import os
import stat
import struct
import zlib

import cv2
import numpy as np
import pytest
import simplejpeg
import tifffile
from PIL import ExifTags, Image, ImageOps
from skimage import data

import veil.media.image as image_io
from veil.errors import InvalidInputError, OutputError, UnsupportedInputError
from veil.media.image import IMAGE_EXTENSIONS, load_image, save_image
from veil.media.metadata import add_png_metadata

RGB = np.ascontiguousarray(data.astronaut()[40:232:4, 120:376:4])  # 48x64, the face
H, W = RGB.shape[:2]
ALPHA = np.tile(np.linspace(0, 255, W).astype(np.uint8), (H, 1))
GRAY = cv2.cvtColor(RGB, cv2.COLOR_RGB2GRAY)
RGB16 = RGB.astype(np.uint16) * 256 + np.arange(W, dtype=np.uint16)[:, None]  # low bits set too
BOX = (slice(10, 30), slice(20, 44))


def _pil(mode: str) -> Image.Image:
    rgb = Image.fromarray(RGB)
    if mode == "P":
        return rgb.quantize(64)
    if mode == "RGBA":
        return Image.fromarray(np.dstack((RGB, ALPHA)))
    if mode == "LA":
        return Image.fromarray(np.dstack((GRAY, ALPHA)))
    if mode == "I;16":
        return Image.fromarray(GRAY.astype(np.uint16) * 257 + 3)
    return rgb.convert(mode)


def _binary_alpha_p() -> Image.Image:
    image = _pil("P")
    indices = np.asarray(image).copy()
    indices[:, :8] = 63  # a fully transparent band
    out = Image.fromarray(indices)
    out.putpalette(image.getpalette())
    out.info["transparency"] = 63
    return out


def _write(path, image: Image.Image, **params) -> None:
    params.update({"transparency": image.info["transparency"]} if "transparency" in image.info else {})
    image.save(path, **params)


# id: (file name, writer, mode LoadedImage reports, Pillow mode of the written file, lossless)
CASES = {
    "png-rgb": ("a.png", lambda p: _write(p, _pil("RGB")), "RGB", "RGB", True),
    "png-rgba": ("a.png", lambda p: _write(p, _pil("RGBA")), "RGBA", "RGBA", True),
    "png-l": ("a.png", lambda p: _write(p, _pil("L")), "L", "L", True),
    "png-la": ("a.png", lambda p: _write(p, _pil("LA")), "LA", "LA", True),
    "png-1": ("a.png", lambda p: _write(p, _pil("1")), "1", "1", True),
    "png-p": ("a.png", lambda p: _write(p, _pil("P")), "P", "P", True),
    "png-p-transparent": ("a.png", lambda p: _write(p, _binary_alpha_p()), "P", "P", True),
    "png-p-partial-alpha": ("a.png", lambda p: _write(p, _pil("P"), transparency=bytes(range(0, 256, 4))), "RGBA", "RGBA", True),
    "png-l-colour-key": ("a.png", lambda p: _write(p, _pil("L"), transparency=int(GRAY[0, 0])), "P", "P", True),
    "png-rgb-colour-key": ("a.png", lambda p: _write(p, _pil("RGB"), transparency=tuple(int(v) for v in RGB[0, 0])), "RGBA", "RGBA", True),
    "png-i16": ("a.png", lambda p: _write(p, _pil("I;16")), "I;16", "I;16", True),
    "png-rgb16": ("a.png", lambda p: cv2.imwrite(str(p), RGB16[..., ::-1]), "RGB;16", "RGB", True),
    "png-rgba16": ("a.png", lambda p: cv2.imwrite(str(p), np.dstack((RGB16[..., ::-1], ALPHA.astype(np.uint16) * 257))), "RGBA;16", "RGBA", True),
    "png-la16": ("a.png", lambda p: p.write_bytes(_png_la16()), "RGBA;16", "RGBA", True),
    "tiff-rgb": ("a.tif", lambda p: _write(p, _pil("RGB"), compression="tiff_lzw"), "RGB", "RGB", True),
    "tiff-rgba": ("a.tif", lambda p: _write(p, _pil("RGBA")), "RGBA", "RGBA", True),
    "tiff-cmyk": ("a.tif", lambda p: _write(p, _pil("CMYK")), "CMYK", "CMYK", True),
    "tiff-l": ("a.tif", lambda p: _write(p, _pil("L")), "L", "L", True),
    "tiff-p": ("a.tif", lambda p: _write(p, _pil("P")), "P", "P", True),
    "tiff-i16": ("a.tif", lambda p: _write(p, _pil("I;16")), "I;16", "I;16", True),
    "tiff-rgb16": ("a.tif", lambda p: tifffile.imwrite(p, RGB16, photometric="rgb"), "RGB;16", "RGB", True),
    "tiff-rgba16": ("a.tif", lambda p: tifffile.imwrite(p, np.dstack((RGB16, ALPHA.astype(np.uint16) * 257)),
                                                        photometric="rgb", extrasamples=["unassalpha"]), "RGBA;16", "RGBA", True),
    "tiff-jpeg": ("a.tif", lambda p: _write(p, _pil("RGB"), compression="jpeg"), "RGB", "RGB", False),
    "jpeg-rgb": ("a.jpg", lambda p: _write(p, _pil("RGB"), quality=95), "RGB", "RGB", False),
    "jpeg-l": ("a.jpg", lambda p: _write(p, _pil("L"), quality=95), "L", "L", False),
    "jpeg-cmyk": ("a.jpg", lambda p: _write(p, _pil("CMYK"), quality=95), "CMYK", "CMYK", False),
    "bmp-rgb": ("a.bmp", lambda p: _write(p, _pil("RGB")), "RGB", "RGB", True),
    "bmp-l": ("a.bmp", lambda p: _write(p, _pil("L")), "L", "L", True),
    "bmp-p": ("a.bmp", lambda p: _write(p, _pil("P")), "P", "P", True),
    "webp-lossless-rgba": ("a.webp", lambda p: _write(p, _pil("RGBA"), lossless=True), "RGBA", "RGBA", True),
    "webp-lossy-rgb": ("a.webp", lambda p: _write(p, _pil("RGB"), quality=90), "RGB", "RGB", False),
    "webp-lossy-rgba": ("a.webp", lambda p: _write(p, _pil("RGBA"), quality=90), "RGBA", "RGBA", False),
    "gif-p-transparent": ("a.gif", lambda p: _write(p, _binary_alpha_p()), "P", "P", True),
}


def _png_la16() -> bytes:
    """16-bit grey+alpha PNG (Pillow can only read it as 8-bit, OpenCV can't write it)."""
    samples = np.dstack((GRAY.astype(np.uint16) * 256 + 7, ALPHA.astype(np.uint16) * 257)).astype(">u2")
    rows = b"".join(b"\0" + row.tobytes() for row in samples)
    header = struct.pack(">IIBBBBB", W, H, 16, 4, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b"")


@pytest.fixture(params=list(CASES))
def case(request, tmp_path):
    name, write, mode, file_mode, lossless = CASES[request.param]
    src = tmp_path / name
    write(src)
    return src, mode, file_mode, lossless


def _redacted(pixels: np.ndarray) -> np.ndarray:
    out = pixels.copy()
    out[BOX] = cv2.GaussianBlur(np.ascontiguousarray(pixels[BOX]), (0, 0), 6)
    out[BOX][:6] = 0  # and a solid bar, so even a 2-colour palette changes
    return out


def test_round_trip_keeps_format_mode_size_and_pixels(case, tmp_path):
    src, mode, file_mode, lossless = case
    loaded = load_image(src)
    assert (loaded.mode, loaded.pixels.shape, loaded.lossless) == (mode, (H, W, 3), lossless)
    assert loaded.pixels.dtype == (np.uint16 if mode in ("I;16", "RGB;16", "RGBA;16") else np.uint8)
    assert not loaded.pixels.flags.writeable
    out = tmp_path / ("out" + src.suffix)
    save_image(loaded, loaded.pixels, out)
    with Image.open(out) as im:
        assert (im.format, im.mode, im.size) == (loaded.format, file_mode, (W, H))
    again = load_image(out)
    assert again.mode == mode and again.pixels.dtype == loaded.pixels.dtype
    if lossless:
        assert np.array_equal(again.pixels, loaded.pixels)
    else:
        assert np.abs(again.pixels.astype(int) - loaded.pixels).mean() < 3
    if loaded.alpha is None:
        assert again.alpha is None
    else:
        assert np.array_equal(again.alpha, loaded.alpha)


def test_redaction_changes_only_the_region_and_never_the_alpha(case, tmp_path):
    src, mode, file_mode, lossless = case
    loaded = load_image(src)
    redacted = _redacted(loaded.pixels)
    out = tmp_path / ("out" + src.suffix)
    save_image(loaded, redacted, out)
    again = load_image(out)
    assert again.mode == mode and again.pixels.shape == loaded.pixels.shape
    if loaded.alpha is not None:
        assert np.array_equal(again.alpha, loaded.alpha)
    outside = np.ones((H, W), bool)
    outside[BOX] = False
    if lossless:
        assert np.array_equal(again.pixels[outside], loaded.pixels[outside])
    visible = np.ones((H, W), bool) if loaded.alpha is None else loaded.alpha > 0
    before, after = loaded.pixels[BOX][visible[BOX]].astype(int), again.pixels[BOX][visible[BOX]].astype(int)
    expected = redacted[BOX][visible[BOX]].astype(int)
    if mode == "1":  # thresholded: only "it changed" can be asked
        assert (after != before).any()
        return
    assert np.abs(after - expected).mean() < np.abs(before - expected).mean() / 2  # the face really changed


def test_16bit_inputs_keep_their_low_bits(tmp_path):
    src = tmp_path / "a.png"
    cv2.imwrite(str(src), RGB16[..., ::-1])
    loaded = load_image(src)
    assert np.array_equal(loaded.pixels, RGB16)
    assert np.array_equal(loaded.rgb8(), (RGB16 >> 8).astype(np.uint8))


def test_p_keeps_its_palette(tmp_path):
    src = tmp_path / "a.png"
    _pil("P").save(src)
    loaded = load_image(src)
    out = tmp_path / "out.png"
    save_image(loaded, _redacted(loaded.pixels), out)
    with Image.open(src) as a, Image.open(out) as b:
        assert a.getpalette() == b.getpalette()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_exif_transpose(tmp_path, orientation):
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    src = tmp_path / "a.png"
    _pil("RGBA").save(src, exif=exif.tobytes())
    with Image.open(src) as im:
        expected = np.asarray(ImageOps.exif_transpose(im))
    loaded = load_image(src)
    assert np.array_equal(loaded.pixels, expected[..., :3]) and np.array_equal(loaded.alpha, expected[..., 3])
    out = tmp_path / "out.png"
    save_image(loaded, loaded.pixels, out)
    with Image.open(out) as im:
        assert not im.getexif() and np.array_equal(np.asarray(im), expected)


@pytest.mark.parametrize("mode", ["P", "CMYK", "I;16"])
def test_orientation_applies_to_kept_source_samples(tmp_path, mode):
    src = tmp_path / "a.tif"
    _pil(mode).save(src, tiffinfo={274: 6})  # uncompressed: Pillow's memory-mapped path mishandles it when named
    expected = _pil(mode).transpose(Image.Transpose.ROTATE_270)
    loaded = load_image(src)
    assert loaded.pixels.shape == (W, H, 3)
    out = tmp_path / "out.tif"
    save_image(loaded, loaded.pixels, out)
    with Image.open(out) as im:
        assert im.mode == expected.mode and np.array_equal(np.asarray(im), np.asarray(expected))
        assert 274 not in im.tag_v2


@pytest.mark.parametrize("orientation", [3, 6, 7])
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_orientation_of_16bit_colour(tmp_path, suffix, orientation):
    src = tmp_path / f"a{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(src, RGB16, photometric="rgb", extratags=[(274, "H", 1, orientation, True)])
    else:
        cv2.imwrite(str(src), RGB16[..., ::-1])
        exif = Image.Exif()
        exif[ExifTags.Base.Orientation] = orientation
        src.write_bytes(add_png_metadata(src.read_bytes(), icc_profile=None, dpi=None, exif=exif.tobytes()))
    loaded = load_image(src)
    assert np.array_equal(loaded.pixels, image_io._ORIENT[orientation](RGB16))  # as checked against Pillow above
    out = tmp_path / f"out{suffix}"
    save_image(loaded, loaded.pixels, out)
    assert np.array_equal(load_image(out).pixels, loaded.pixels)


def test_content_decides_the_format_not_the_extension(tmp_path):
    src = tmp_path / "really-a-png.jpg"
    _pil("RGBA").save(src, format="PNG")
    loaded = load_image(src)
    assert loaded.format == "PNG" and loaded.alpha is not None
    out = tmp_path / "out.jpg"
    save_image(loaded, loaded.pixels, out)
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_mpo_keeps_the_primary_image_only(tmp_path):
    src = tmp_path / "a.jpg"
    _pil("RGB").save(src, "MPO", save_all=True, append_images=[_pil("RGB")])
    loaded = load_image(src)
    assert loaded.format == "JPEG"
    out = tmp_path / "out.jpg"
    save_image(loaded, loaded.pixels, out)
    assert out.read_bytes().count(b"\xff\xd8\xff") == 1


def test_jpeg_quality_option(tmp_path):
    src = tmp_path / "a.jpg"
    Image.fromarray(data.astronaut()).save(src, quality=95)
    loaded = load_image(src)
    sizes = []
    for quality in (30, 95):
        save_image(loaded, loaded.pixels, tmp_path / "out.jpg", jpeg_quality=quality)
        sizes.append((tmp_path / "out.jpg").stat().st_size)
    assert sizes[0] < sizes[1] / 2


# ---- refusals ------------------------------------------------------------------------------------------------


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _huge_png_header() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 40_000, 40_000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _animated(fmt: str):
    frames = [_pil("RGB"), Image.fromarray(RGB[::-1].copy())]
    buffer = io.BytesIO()
    frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:], duration=100)
    return buffer.getvalue()


BAD = {
    "empty.jpg": (lambda: b"", InvalidInputError, "empty"),
    "text.jpg": (lambda: b"hello, not an image\n" * 10, InvalidInputError, "not a"),
    "truncated.jpg": (lambda: _jpeg_bytes()[:2000], InvalidInputError, "truncated"),
    "early-eoi.jpg": (lambda: _cut_and_closed(_jpeg_bytes()), InvalidInputError, "corrupt or truncated image"),
    "truncated.png": (lambda: _png_bytes(_pil("RGB"))[:3000], InvalidInputError, "truncated"),
    "truncated16.png": (lambda: _png_la16()[:1500], InvalidInputError, "truncated"),
    "bad-crc.png": (lambda: _corrupt(_png_bytes(_pil("RGB"))), InvalidInputError, "corrupt"),
    "huge.png": (_huge_png_header, UnsupportedInputError, "pixels"),
    "animated.gif": (lambda: _animated("GIF"), UnsupportedInputError, "frames"),
    "animated.webp": (lambda: _animated("WEBP"), UnsupportedInputError, "frames"),
    "animated.png": (lambda: _animated("PNG"), UnsupportedInputError, "frames"),
    "pages.tif": (lambda: _animated("TIFF"), UnsupportedInputError, "frames"),
    "float.tif": (lambda: _tiff_bytes(Image.fromarray(GRAY.astype(np.float32))), UnsupportedInputError, "mode F"),
    "int32.tif": (lambda: _tiff_bytes(Image.fromarray(GRAY.astype(np.int32) * 70000)), UnsupportedInputError, "mode I"),
}


def _jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, "JPEG")
    return buffer.getvalue()


def _cut_and_closed(jpeg: bytes, keep: float = 0.6) -> bytes:
    """A JPEG cut short and closed with an end-of-image marker: libjpeg fills the rest with grey, silently."""
    return jpeg[: int(len(jpeg) * keep)] + b"\xff\xd9"


def _tiff_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "TIFF")
    return buffer.getvalue()


def _corrupt(png: bytes) -> bytes:
    at = png.index(b"IDAT") + 40
    return png[:at] + bytes([png[at] ^ 0xFF]) + png[at + 1:]


@pytest.mark.parametrize("name", list(BAD))
def test_bad_inputs_are_refused_with_the_file_name(tmp_path, name):
    make, error, reason = BAD[name]
    src = tmp_path / name
    src.write_bytes(make())
    with pytest.raises(error, match=reason) as caught:
        load_image(src)
    message = str(caught.value)
    assert name in message and "\n" not in message


def _jpeg(image: Image.Image, fmt: str = "JPEG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _rotated_exif() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    return exif.tobytes()


ASTRONAUT = Image.fromarray(data.astronaut())
# Valid JPEGs of each kind the strict libjpeg-turbo check must let through.
JPEG_KINDS = {
    "baseline-420": lambda: _jpeg(ASTRONAUT, quality=92),
    "444": lambda: _jpeg(ASTRONAUT, subsampling=0),
    "422": lambda: _jpeg(ASTRONAUT, subsampling=1),
    "optimized": lambda: _jpeg(ASTRONAUT, optimize=True),
    "progressive": lambda: _jpeg(ASTRONAUT, progressive=True),
    "restart-markers": lambda: _jpeg(ASTRONAUT, restart_marker_blocks=3),
    "restart-markers-opencv": lambda: cv2.imencode(".jpg", data.astronaut()[..., ::-1],
                                                   [cv2.IMWRITE_JPEG_RST_INTERVAL, 5])[1].tobytes(),
    "grey": lambda: _jpeg(ASTRONAUT.convert("L")),
    "grey-progressive": lambda: _jpeg(ASTRONAUT.convert("L"), progressive=True),
    "cmyk": lambda: _jpeg(ASTRONAUT.convert("CMYK")),
    # TurboJPEG writes CMYK pixels as a YCCK JPEG
    "ycck": lambda: simplejpeg.encode_jpeg(np.asarray(ASTRONAUT.convert("CMYK")), colorspace="CMYK"),
    "exif-rotated": lambda: _jpeg(ASTRONAUT, exif=_rotated_exif()),
    "mpo": lambda: _jpeg(ASTRONAUT, "MPO", save_all=True, append_images=[ASTRONAUT.resize((64, 64))]),
    "data-after-the-end": lambda: _jpeg(ASTRONAUT) + b"trailer some cameras append" * 10,
    "one-pixel": lambda: _jpeg(Image.new("RGB", (1, 1), (9, 9, 9))),
    "one-row": lambda: _jpeg(Image.new("RGB", (4000, 1), (9, 9, 9))),
}


@pytest.mark.parametrize("kind", list(JPEG_KINDS))
def test_valid_jpegs_of_every_kind_pass_the_strict_check(tmp_path, kind):
    src = tmp_path / "a.jpg"
    src.write_bytes(JPEG_KINDS[kind]())
    loaded = load_image(src)
    assert loaded.format == "JPEG"


@pytest.mark.parametrize("kind", ["baseline-420", "444", "progressive", "restart-markers", "grey", "cmyk", "ycck",
                                  "mpo"])
def test_jpeg_cut_and_closed_with_an_end_marker_is_refused(tmp_path, kind):
    """libjpeg conceals the missing part (grey) with only a warning, which Pillow ignores: veil must refuse it."""
    jpeg = _cut_and_closed(JPEG_KINDS[kind]())
    with Image.open(io.BytesIO(jpeg)) as im:
        im.load()  # Pillow alone: no error at all
    src = tmp_path / "early-eoi.jpg"
    src.write_bytes(jpeg)
    with pytest.raises(InvalidInputError, match="corrupt or truncated image .*premature end of data segment") as caught:
        load_image(src)
    message = str(caught.value)
    assert message.startswith(f"{src}: ") and "\n" not in message


def test_jpeg_layout_turbojpeg_cannot_decode_is_loaded_unchecked(tmp_path, monkeypatch):
    """Unusual sampling factors (Cb and Cr sampled differently, 3x1...) Pillow decodes but TurboJPEG's API cannot."""

    def cannot(data, **kwargs):
        raise ValueError("tjDecompressHeader3(): Could not determine subsampling level of JPEG image")

    monkeypatch.setattr(image_io.simplejpeg, "decode_jpeg", cannot)
    src = tmp_path / "a.jpg"
    src.write_bytes(JPEG_KINDS["baseline-420"]())
    assert load_image(src).format == "JPEG"


def test_missing_file_and_folder_are_invalid_inputs(tmp_path):
    for path in (tmp_path / "missing.png", tmp_path):
        with pytest.raises(InvalidInputError, match="cannot read") as caught:
            load_image(path)
        assert str(path) in str(caught.value)


def test_pixel_limit_is_checked_before_decoding(tmp_path):
    src = tmp_path / "truncated.png"
    src.write_bytes(_png_bytes(_pil("RGB"))[:3000])  # decoding would fail: the limit must answer first
    with pytest.raises(UnsupportedInputError, match=f"{W}x{H} image exceeds the limit of 1000 pixels"):
        load_image(src, max_pixels=1000)


# ---- atomic writes ---------------------------------------------------------------------------------------------


@pytest.fixture
def loaded(tmp_path):
    src = tmp_path / "in" / "a.png"
    src.parent.mkdir()
    _pil("RGB").save(src)
    return load_image(src)


def test_save_leaves_only_the_output_with_the_usual_permissions(loaded, tmp_path):
    out = tmp_path / "out" / "a.png"
    out.parent.mkdir()
    save_image(loaded, loaded.pixels, out)
    assert os.listdir(out.parent) == ["a.png"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask
    assert out.read_bytes() == image_io.encode_image(loaded, loaded.pixels)


def test_encoder_failure_leaves_nothing(loaded, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("encoder exploded")

    monkeypatch.setattr(Image.Image, "save", fail)
    out = tmp_path / "out.png"
    with pytest.raises(RuntimeError, match="exploded"):
        save_image(loaded, loaded.pixels, out)
    assert sorted(os.listdir(tmp_path)) == ["in"]


def test_write_failure_keeps_the_previous_file(loaded, tmp_path, monkeypatch):
    out = tmp_path / "out.png"
    out.write_bytes(b"previous")
    seen = []

    def fail(fd):
        seen.append(sorted(os.listdir(tmp_path)))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(image_io.os, "fsync", fail)
    with pytest.raises(OutputError, match="out.png: cannot write .No space left"):
        save_image(loaded, loaded.pixels, out)
    assert [name for name in seen[0] if name.startswith(".out.")]  # the temporary file existed...
    assert sorted(os.listdir(tmp_path)) == ["in", "out.png"] and out.read_bytes() == b"previous"  # ...and is gone


def test_missing_destination_folder_is_an_output_error(loaded, tmp_path):
    with pytest.raises(OutputError, match="output folder does not exist"):
        save_image(loaded, loaded.pixels, tmp_path / "nowhere" / "a.png")


def test_pixels_must_match_the_loaded_image(loaded, tmp_path):
    with pytest.raises(ValueError, match="pixels must be"):
        save_image(loaded, loaded.pixels.astype(np.uint16), tmp_path / "a.png")
    with pytest.raises(ValueError, match="pixels must be"):
        save_image(loaded, loaded.pixels[1:], tmp_path / "a.png")
    assert not (tmp_path / "a.png").exists()


def test_image_extensions():
    assert {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"} <= IMAGE_EXTENSIONS
    assert all(ext == ext.lower() and ext.startswith(".") for ext in IMAGE_EXTENSIONS)
