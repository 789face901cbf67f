"""Metadata policy: which EXIF tags may survive anonymization, and PNG metadata chunks for OpenCV output.

Everything not listed here is dropped, always: XMP, IPTC, comments, text chunks, the EXIF thumbnail
(IFD1, it shows the unblurred face), maker notes, serial numbers, owner and artist names, descriptions,
user comments, image IDs, subject areas and the Orientation tag (pixels are written upright).
With ``keep_metadata`` only the allowlist below is kept; the GPS IFD only with ``keep_gps`` as well.
"""

from __future__ import annotations

import struct
import zlib

from PIL import ExifTags, Image

_B = ExifTags.Base

# IFD0: camera, software, date and resolution; never Orientation, Artist, Copyright, ImageDescription, HostComputer.
KEPT_IFD0_TAGS = frozenset({
    _B.Make, _B.Model, _B.Software, _B.DateTime, _B.XResolution, _B.YResolution, _B.ResolutionUnit,
})

# Exif IFD: exposure settings, lens model and capture time; never MakerNote, UserComment, BodySerialNumber,
# LensSerialNumber, CameraOwnerName, ImageUniqueID, SubjectArea/SubjectLocation or the Interop IFD.
KEPT_EXIF_TAGS = frozenset({
    _B.ExposureTime, _B.FNumber, _B.ExposureProgram, _B.ISOSpeedRatings, _B.SensitivityType, _B.ExifVersion,
    _B.DateTimeOriginal, _B.DateTimeDigitized, _B.OffsetTime, _B.OffsetTimeOriginal, _B.OffsetTimeDigitized,
    _B.SubsecTime, _B.SubsecTimeOriginal, _B.SubsecTimeDigitized, _B.ShutterSpeedValue, _B.ApertureValue,
    _B.BrightnessValue, _B.ExposureBiasValue, _B.MaxApertureValue, _B.MeteringMode, _B.LightSource, _B.Flash,
    _B.FocalLength, _B.ColorSpace, _B.ExposureMode, _B.WhiteBalance, _B.DigitalZoomRatio, _B.FocalLengthIn35mmFilm,
    _B.SceneCaptureType, _B.GainControl, _B.Contrast, _B.Saturation, _B.Sharpness, _B.SubjectDistanceRange,
    _B.LensSpecification, _B.LensMake, _B.LensModel,
})


def filter_exif(exif: Image.Exif | bytes | None, *, keep_gps: bool) -> bytes | None:
    """EXIF bytes (``b"Exif\\0\\0..."``) holding only the allowlisted tags, or None when nothing is kept."""
    if not exif:
        return None
    try:
        if isinstance(exif, bytes):
            source = Image.Exif()
            source.load(exif)
        else:
            source = exif
        kept = Image.Exif()
        for tag in KEPT_IFD0_TAGS & source.keys():
            kept[tag] = source[tag]
        exif_ifd = {tag: v for tag, v in source.get_ifd(ExifTags.IFD.Exif).items() if tag in KEPT_EXIF_TAGS}
        if exif_ifd:
            kept[ExifTags.IFD.Exif] = exif_ifd
        gps = source.get_ifd(ExifTags.IFD.GPSInfo) if keep_gps else None
        if gps:
            kept[ExifTags.IFD.GPSInfo] = dict(gps)
        return kept.tobytes() if len(kept) else None
    except Exception:  # malformed EXIF is dropped: the privacy-safe outcome, and never a reason to refuse the image
        return None


def add_png_metadata(png: bytes, *, icc_profile: bytes | None, dpi: tuple[float, float] | None,
                     exif: bytes | None) -> bytes:
    """``png`` (as OpenCV encodes it, with no metadata) with iCCP, pHYs and eXIf chunks inserted after IHDR."""
    chunks = []
    if icc_profile:
        chunks.append(_png_chunk(b"iCCP", b"ICC Profile\0\0" + zlib.compress(icc_profile)))
    if dpi:
        chunks.append(_png_chunk(b"pHYs", struct.pack(">IIB", round(dpi[0] / 0.0254), round(dpi[1] / 0.0254), 1)))
    if exif:
        chunks.append(_png_chunk(b"eXIf", exif.removeprefix(b"Exif\0\0")))
    ihdr_end = 8 + 4 + 4 + 13 + 4  # signature, then IHDR: length, type, 13 data bytes, CRC
    return png[:ihdr_end] + b"".join(chunks) + png[ihdr_end:]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
