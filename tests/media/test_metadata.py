"""Metadata policy: nothing identifying survives by default; keep_metadata keeps only the allowlist; ICC always."""

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
import tifffile
from PIL import ExifTags, Image, ImageCms, ImageOps, IptcImagePlugin, PngImagePlugin, TiffImagePlugin
from skimage import data

from veil.media.image import load_image, save_image
from veil.media.metadata import add_png_metadata, filter_exif

B, IFD = ExifTags.Base, ExifTags.IFD
XMP_NS = b"http://ns.adobe.com/xap/1.0/"
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
       b'xmp:CreatorTool="XMP-SECRET" dc:creator="Jane Doe"/></rdf:RDF></x:xmpmeta>')
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
SECRETS = (b"Jane Doe", b"SERIAL-12345", b"LENS-67890", b"UID-ABCDEF", b"MAKERNOTE-SECRET", b"COMMENT-SECRET",
           b"XMP-SECRET", XMP_NS, b"Photoshop 3.0")
UPRIGHT = data.astronaut()[:400, 100:400]  # portrait 300x400, face near the top


def face_thumbnail() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(UPRIGHT[:160, 40:200]).resize((64, 64)).save(buffer, "JPEG")
    return buffer.getvalue()


def make_exif(orientation: int = 1, *, thumbnail: bool = True) -> bytes:
    exif = Image.Exif()
    exif[B.Make] = "Canon"
    exif[B.Model] = "EOS 5D"
    exif[B.Software] = "Firmware 1.0"
    exif[B.DateTime] = "2024:05:01 10:00:00"
    exif[B.Orientation] = orientation
    exif[B.Artist] = "Jane Doe"
    exif[IFD.Exif] = {
        B.ExposureTime: TiffImagePlugin.IFDRational(1, 125), B.FNumber: 2.8, B.ISOSpeedRatings: 400,
        B.MakerNote: b"MAKERNOTE-SECRET", B.BodySerialNumber: "SERIAL-12345", B.LensSerialNumber: "LENS-67890",
        B.CameraOwnerName: "Jane Doe", B.ImageUniqueID: "UID-ABCDEF", B.UserComment: b"ASCII\0\0\0Jane Doe",
    }
    exif[IFD.GPSInfo] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    raw = exif.tobytes()
    return _with_thumbnail(raw, face_thumbnail()) if thumbnail else raw


def _with_thumbnail(raw: bytes, thumbnail: bytes) -> bytes:
    """Append IFD1 (an EXIF thumbnail) after IFD0, as cameras write it."""
    tiff = bytearray(raw[6:])
    endian = "<" if tiff[:2] == b"II" else ">"
    count = struct.unpack_from(endian + "H", tiff, 8)[0]
    tiff += b"\0" * (len(tiff) & 1)
    ifd1 = len(tiff)
    struct.pack_into(endian + "I", tiff, 8 + 2 + 12 * count, ifd1)
    tiff += struct.pack(endian + "H", 2)
    tiff += struct.pack(endian + "HHII", 0x0201, 4, 1, ifd1 + 2 + 2 * 12 + 4)
    tiff += struct.pack(endian + "HHII", 0x0202, 4, 1, len(thumbnail))
    tiff += struct.pack(endian + "I", 0) + thumbnail
    return b"Exif\0\0" + bytes(tiff)


def _with_iptc(jpeg: bytes) -> bytes:
    dataset = b"\x1c\x02\x50" + struct.pack(">H", 8) + b"Jane Doe"  # By-line
    resource = b"8BIM\x04\x04\0\0" + struct.pack(">I", len(dataset)) + dataset
    payload = b"Photoshop 3.0\0" + resource
    return jpeg[:2] + b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


@pytest.fixture
def camera_jpeg(tmp_path):
    """A phone-like JPEG stored sideways (orientation 6) with every kind of identifying metadata."""
    buffer = io.BytesIO()
    Image.fromarray(np.rot90(UPRIGHT, 1)).save(buffer, "JPEG", quality=95, exif=make_exif(6), xmp=XMP,
                                               comment=b"COMMENT-SECRET", icc_profile=SRGB, dpi=(300, 300))
    path = tmp_path / "camera.jpg"
    path.write_bytes(_with_iptc(buffer.getvalue()))
    raw = path.read_bytes()
    assert all(secret in raw for secret in SECRETS) and raw.find(b"\xff\xd8\xff", 2) > 0
    with Image.open(path) as im:
        assert im.getexif().get_ifd(IFD.IFD1)[0x0201] and IptcImagePlugin.getiptcinfo(im)
    return path


def png_chunks(raw: bytes) -> list[bytes]:
    chunks, at = [], 8
    while at < len(raw):
        length, kind = struct.unpack_from(">I4s", raw, at)
        chunks.append(kind)
        at += 12 + length
    return chunks


def riff_chunks(raw: bytes) -> list[bytes]:
    chunks, at = [], 12
    while at + 8 <= len(raw):
        kind, size = raw[at:at + 4], struct.unpack_from("<I", raw, at + 4)[0]
        chunks.append(kind)
        at += 8 + size + (size & 1)
    return chunks


def test_jpeg_output_has_no_metadata_and_is_upright(camera_jpeg, tmp_path):
    loaded = load_image(camera_jpeg)
    assert loaded.pixels.shape == (400, 300, 3)
    out = tmp_path / "out.jpg"
    save_image(loaded, loaded.pixels, out)
    raw = out.read_bytes()
    assert b"Exif" not in raw
    assert not [secret for secret in SECRETS if secret in raw]
    assert raw.find(b"\xff\xd8\xff", 2) == -1  # no embedded (thumbnail) JPEG
    with Image.open(out) as im, Image.open(camera_jpeg) as source:
        assert im.size == (300, 400)
        assert not im.getexif()
        assert not {"exif", "xmp", "comment", "photoshop"} & im.info.keys()
        assert im.info["icc_profile"] == SRGB
        assert im.info["dpi"] == pytest.approx((300, 300))
        upright = np.asarray(ImageOps.exif_transpose(source)).astype(int)
        assert np.abs(np.asarray(im).astype(int) - upright).mean() < 3


def test_keep_metadata_keeps_camera_settings_only(camera_jpeg, tmp_path):
    out = tmp_path / "out.jpg"
    loaded = load_image(camera_jpeg)
    save_image(loaded, loaded.pixels, out, keep_metadata=True)
    raw = out.read_bytes()
    assert not [secret for secret in SECRETS if secret in raw]
    assert raw.find(b"\xff\xd8\xff", 2) == -1
    with Image.open(out) as im:
        exif = im.getexif()
        assert (exif[B.Make], exif[B.Model], exif[B.Software]) == ("Canon", "EOS 5D", "Firmware 1.0")
        assert exif[B.DateTime] == "2024:05:01 10:00:00"
        assert B.Orientation not in exif and B.Artist not in exif
        settings = exif.get_ifd(IFD.Exif)
        assert settings[B.ExposureTime] == pytest.approx(1 / 125) and settings[B.ISOSpeedRatings] == 400
        assert not {B.MakerNote, B.BodySerialNumber, B.LensSerialNumber, B.CameraOwnerName, B.ImageUniqueID,
                    B.UserComment} & settings.keys()
        assert IFD.GPSInfo not in exif and not exif.get_ifd(IFD.GPSInfo)
        assert not exif.get_ifd(IFD.IFD1)
        assert im.size == (300, 400) and im.info["icc_profile"] == SRGB


def test_keep_gps_keeps_the_gps_ifd(camera_jpeg, tmp_path):
    out = tmp_path / "out.jpg"
    loaded = load_image(camera_jpeg)
    save_image(loaded, loaded.pixels, out, keep_metadata=True, keep_gps=True)
    with Image.open(out) as im:
        gps = im.getexif().get_ifd(IFD.GPSInfo)
        assert gps[1] == "N" and tuple(gps[2]) == pytest.approx((48, 51, 29))
        assert not im.getexif().get_ifd(IFD.IFD1)
    assert out.read_bytes().find(b"\xff\xd8\xff", 2) == -1


def test_keep_gps_needs_keep_metadata(camera_jpeg, tmp_path):
    loaded = load_image(camera_jpeg)
    with pytest.raises(ValueError, match="keep_metadata"):
        save_image(loaded, loaded.pixels, tmp_path / "out.jpg", keep_gps=True)
    assert not (tmp_path / "out.jpg").exists()


def test_png_text_chunks_xmp_and_exif_are_removed(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Doe")
    info.add_text("Comment", "COMMENT-SECRET", zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    src = tmp_path / "meta.png"
    Image.fromarray(UPRIGHT).save(src, pnginfo=info, exif=make_exif(thumbnail=False), icc_profile=SRGB)
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf"} <= set(png_chunks(src.read_bytes()))
    loaded = load_image(src)

    out = tmp_path / "out.png"
    save_image(loaded, loaded.pixels, out)
    raw = out.read_bytes()
    assert set(png_chunks(raw)) <= {b"IHDR", b"iCCP", b"pHYs", b"IDAT", b"IEND"}
    assert not [secret for secret in SECRETS if secret in raw]
    with Image.open(out) as im:
        assert im.info["icc_profile"] == SRGB and np.array_equal(np.asarray(im), UPRIGHT)

    save_image(loaded, loaded.pixels, out, keep_metadata=True)
    with Image.open(out) as im:
        assert im.getexif()[B.Make] == "Canon" and not im.getexif().get_ifd(IFD.GPSInfo)
    assert set(png_chunks(out.read_bytes())) <= {b"IHDR", b"iCCP", b"pHYs", b"eXIf", b"IDAT", b"IEND"}


@pytest.mark.parametrize("lossless", [True, False])
def test_webp_exif_and_xmp_are_removed(tmp_path, lossless):
    src = tmp_path / "meta.webp"
    Image.fromarray(UPRIGHT).save(src, lossless=lossless, exif=make_exif(), xmp=XMP, icc_profile=SRGB)
    assert {b"EXIF", b"XMP "} <= set(riff_chunks(src.read_bytes()))
    loaded = load_image(src)
    assert loaded.lossless is lossless

    out = tmp_path / "out.webp"
    save_image(loaded, loaded.pixels, out)
    raw = out.read_bytes()
    assert set(riff_chunks(raw)) <= {b"VP8X", b"ICCP", b"VP8 ", b"VP8L"}
    assert not [secret for secret in SECRETS if secret in raw]
    assert (b"VP8L" in riff_chunks(raw)) is lossless
    with Image.open(out) as im:
        assert im.info["icc_profile"] == SRGB

    save_image(loaded, loaded.pixels, out, keep_metadata=True)
    raw = out.read_bytes()
    assert b"EXIF" in riff_chunks(raw) and raw.find(b"\xff\xd8\xff") == -1
    with Image.open(out) as im:
        assert im.getexif()[B.Make] == "Canon" and not im.getexif().get_ifd(IFD.GPSInfo)


def test_tiff_tags_are_removed(tmp_path):
    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[270] = "Jane Doe at home"  # ImageDescription
    tags[315] = "Jane Doe"  # Artist
    tags[700] = XMP
    tags[B.Make] = "Canon"
    src = tmp_path / "meta.tif"
    Image.fromarray(UPRIGHT).save(src, tiffinfo=tags, icc_profile=SRGB)
    assert b"Jane Doe" in src.read_bytes() and XMP_NS in src.read_bytes()
    loaded = load_image(src)

    out = tmp_path / "out.tif"
    save_image(loaded, loaded.pixels, out)
    raw = out.read_bytes()
    assert not [secret for secret in SECRETS if secret in raw] and b"Canon" not in raw
    with Image.open(out) as im:
        assert not {270, 315, 700, 33723, B.Make, IFD.Exif, IFD.GPSInfo} & im.tag_v2.keys()
        assert im.info["icc_profile"] == SRGB and np.array_equal(np.asarray(im), UPRIGHT)

    save_image(loaded, loaded.pixels, out, keep_metadata=True)
    with Image.open(out) as im:
        assert im.tag_v2[B.Make] == "Canon" and not {270, 315, 700} & im.tag_v2.keys()


def test_tiff_exif_ifds_follow_the_policy(tmp_path):
    src = tmp_path / "exif.tif"
    Image.fromarray(UPRIGHT).save(src, exif=make_exif(thumbnail=False))
    loaded = load_image(src)
    out = tmp_path / "out.tif"
    save_image(loaded, loaded.pixels, out, keep_metadata=True, keep_gps=True)
    assert not [secret for secret in SECRETS if secret in out.read_bytes()]
    with Image.open(out) as im:
        exif = im.getexif()
        assert exif.get_ifd(IFD.Exif)[B.ISOSpeedRatings] == 400 and exif.get_ifd(IFD.GPSInfo)[1] == "N"
    save_image(loaded, loaded.pixels, out, keep_metadata=True)
    with Image.open(out) as im:
        assert not im.getexif().get_ifd(IFD.GPSInfo)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_colour_keeps_icc_and_drops_metadata(tmp_path, suffix):
    pixels16 = UPRIGHT.astype(np.uint16) * 257
    src = tmp_path / f"rgb16{suffix}"
    cv2.imwrite(str(src), cv2.cvtColor(pixels16, cv2.COLOR_RGB2BGR))
    # Attach an ICC profile, EXIF and text the way an editor would.
    if suffix == ".png":
        raw = add_png_metadata(src.read_bytes(), icc_profile=SRGB, dpi=(72, 72), exif=make_exif(thumbnail=False))
        src.write_bytes(raw[:-12] + _text_chunk(b"Author", b"Jane Doe") + raw[-12:])  # before IEND
    else:
        tifffile.imwrite(src, pixels16, photometric="rgb", iccprofile=SRGB, description="Jane Doe at home")
    loaded = load_image(src)
    assert loaded.mode == "RGB;16" and loaded.icc_profile == SRGB
    out = tmp_path / f"out{suffix}"
    save_image(loaded, loaded.pixels, out)
    raw = out.read_bytes()
    assert b"Jane Doe" not in raw and b"Exif" not in raw and b"Canon" not in raw
    with Image.open(out) as im:
        assert im.info["icc_profile"] == SRGB
    assert load_image(out).pixels.dtype == np.uint16
    if suffix == ".png":
        save_image(loaded, loaded.pixels, out, keep_metadata=True)
        with Image.open(out) as im:
            assert im.getexif()[B.Make] == "Canon" and not im.getexif().get_ifd(IFD.GPSInfo)
            assert im.info["dpi"] == pytest.approx((72, 72), abs=0.5)


def _text_chunk(key: bytes, value: bytes) -> bytes:
    body = b"tEXt" + key + b"\0" + value
    return struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))


def test_filter_exif_drops_unparseable_or_empty_exif():
    assert filter_exif(None, keep_gps=True) is None
    assert filter_exif(b"Exif\0\0garbage", keep_gps=True) is None
    only_secrets = Image.Exif()
    only_secrets[B.Artist] = "Jane Doe"
    assert filter_exif(only_secrets, keep_gps=True) is None


def test_filter_exif_is_idempotent():
    once = filter_exif(make_exif(), keep_gps=True)
    assert filter_exif(once, keep_gps=True) == once
    assert b"SERIAL" not in once and b"\xff\xd8" not in once


def test_gif_comment_is_removed(tmp_path):
    src = tmp_path / "meta.gif"
    Image.fromarray(UPRIGHT).quantize(64).save(src, comment=b"COMMENT-SECRET by Jane Doe")
    assert b"COMMENT-SECRET" in src.read_bytes()
    loaded = load_image(src)
    out = tmp_path / "out.gif"
    save_image(loaded, loaded.pixels, out, keep_metadata=True)
    assert b"COMMENT-SECRET" not in out.read_bytes() and b"Jane Doe" not in out.read_bytes()
    with Image.open(out) as im:
        assert "comment" not in im.info and im.mode == "P"
