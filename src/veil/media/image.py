"""Loading images upright for redaction and writing them back faithfully, atomically and without metadata.

Policies (see also :mod:`veil.media.metadata`):

- Formats: JPEG (MPO too: its secondary previews/depth maps are dropped like thumbnails), PNG, WebP, TIFF,
  BMP and single-frame GIF. Animated and multi-page files are refused, never cut to their first frame.
- Corrupt or truncated files are refused, JPEGs too whose damage libjpeg conceals (a file cut and closed
  with an end marker decodes with grey in place of the missing part, and Pillow says nothing): a strict
  libjpeg-turbo pass over the data (simplejpeg) refuses every JPEG it has a warning for.
- The format is detected from the content and the output keeps it, whatever the destination's name: a PNG
  named ``.jpg`` is read and written as PNG, under the name given.
- Pixels come upright (EXIF orientation applied) as HxWx3 RGB, uint16 for 16-bit inputs; alpha is kept
  apart and written back exactly. Size, bit depth, ICC profile and DPI are kept; the mode too, with these
  exceptions: a palette image whose entries are partly transparent (or PA) is written RGBA, an RGB image
  with a PNG colour key is written RGBA, a grey one is written P, and 16-bit grey+alpha is written 16-bit RGBA.
- P and CMYK: untouched pixels keep their exact palette index / CMYK samples; redacted pixels are mapped to
  the nearest opaque palette colour / converted with Pillow's RGB->CMYK.
- Lossless inputs (PNG, TIFF, BMP, GIF, lossless WebP) are written losslessly; JPEG and lossy WebP with
  ``jpeg_quality``; JPEG-compressed TIFF as deflate.
- ``keep_metadata`` can only keep EXIF where the format holds it: JPEG, PNG, WebP and TIFF, but not 16-bit
  colour TIFF (written by tifffile), BMP or GIF, which get none.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np
import simplejpeg
from PIL import ExifTags, Image, JpegImagePlugin, UnidentifiedImageError

from veil.errors import InvalidInputError, OutputError, UnsupportedInputError, VeilError
from veil.media.atomic import atomic_output
from veil.media.metadata import add_png_metadata, filter_exif

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"})
# Pillow's own hard limit (2 x Image.MAX_IMAGE_PIXELS), which applies on top of max_pixels.
DEFAULT_MAX_PIXELS = 178_956_970
DEFAULT_JPEG_QUALITY = 95

_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF")  # JPEG also opens MPO
_COLOUR16 = ("RGB;16", "RGBA;16")
_TIFF_LOSSLESS = frozenset({"raw", "tiff_lzw", "tiff_deflate", "tiff_adobe_deflate", "packbits"})
_ORIENT: dict[int, Callable[[np.ndarray], np.ndarray]] = {  # ImageOps.exif_transpose's transforms, as views
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: a.swapaxes(0, 1)[:, ::-1],
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
    8: lambda a: a.swapaxes(0, 1)[::-1],
}


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """A decoded, upright image and what :func:`save_image` needs to write it back. Arrays are read-only."""

    path: Path
    format: str  # Pillow name of the decoded content's format, also the output format
    mode: str  # the pixel layout written back: a Pillow mode, or "RGB;16" / "RGBA;16"
    pixels: np.ndarray  # HxWx3 RGB, uint8 or uint16
    alpha: np.ndarray | None  # HxW, same dtype as pixels
    icc_profile: bytes | None
    exif: bytes | None  # allowlisted EXIF, GPS included; save_image filters it again by its flags
    dpi: tuple[float, float] | None
    lossless: bool  # whether the source was losslessly encoded
    source: np.ndarray | None = field(default=None, repr=False)  # P indices or CMYK samples, to keep untouched pixels
    palette: np.ndarray | None = field(default=None, repr=False)  # Nx3 uint8 for mode P
    options: dict[str, Any] = field(default_factory=dict, repr=False)  # encoder arguments kept from the source

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    def rgb8(self) -> np.ndarray:
        """8-bit RGB pixels for the detector (the pixels themselves when already 8-bit)."""
        return self.pixels if self.pixels.dtype == np.uint8 else (self.pixels >> 8).astype(np.uint8)


def load_image(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode ``path`` upright; raise InvalidInputError (UnsupportedInputError) with the file name and reason."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise InvalidInputError(f"{path}: empty file")
        # A file object, not a name: Pillow memory-maps named uncompressed TIFFs with a rotated size (garbled pixels).
        file = open(path, "rb")
    except OSError as error:
        raise InvalidInputError(f"{path}: cannot read ({error.strerror or error})") from error
    with file, warnings.catch_warnings():
        # One line per bad file: Pillow's warnings (corrupt EXIF, truncated tags) must not reach the terminal,
        # and max_pixels is the limit that counts, not DecompressionBombWarning.
        warnings.simplefilter("ignore")
        try:
            im = Image.open(file, formats=_FORMATS)
        except Image.DecompressionBombError as error:
            raise UnsupportedInputError(f"{path}: refused before decoding: {error}") from error
        except UnidentifiedImageError as error:
            if kind := _signature(file):
                raise InvalidInputError(f"{path}: corrupt or truncated {kind} image (unreadable header)") from error
            raise InvalidInputError(f"{path}: not a JPEG, PNG, WebP, TIFF, BMP or GIF image") from error
        except Exception as error:  # header parsers raise many types on corrupt input
            raise InvalidInputError(f"{path}: corrupt image header ({error})") from error
        with im:
            width, height = im.size
            if width * height > max_pixels:
                raise UnsupportedInputError(f"{path}: {width}x{height} image exceeds the limit of {max_pixels} pixels")
            try:
                loaded = _load(im, path)
                if im.format in ("JPEG", "MPO"):
                    _check_jpeg_data(file, path)
                return loaded
            except VeilError:
                raise
            except Exception as error:  # decoders raise many types on corrupt input; all mean the file is unusable
                raise InvalidInputError(f"{path}: corrupt or truncated image ({error})") from error


def save_image(loaded: LoadedImage, pixels: np.ndarray, path: str | os.PathLike[str], *, keep_metadata: bool = False,
               keep_gps: bool = False, jpeg_quality: int = DEFAULT_JPEG_QUALITY) -> None:
    """Write ``pixels`` (shaped like ``loaded.pixels``) to ``path`` atomically in ``loaded``'s format.

    Nothing is left at ``path`` (nor a temporary file) when anything fails; an existing file there is
    replaced only by a complete one.
    """
    path = Path(path)
    _check(loaded, pixels, keep_metadata, keep_gps)
    try:
        with atomic_output(path) as temporary, open(temporary, "wb") as file:
            _encode(loaded, pixels, file, keep_metadata, keep_gps, jpeg_quality)
    except OSError as error:
        if isinstance(error, VeilError):
            raise
        raise OutputError(f"{path}: cannot write ({error.strerror or error})") from error


def encode_image(loaded: LoadedImage, pixels: np.ndarray, *, keep_metadata: bool = False, keep_gps: bool = False,
                 jpeg_quality: int = DEFAULT_JPEG_QUALITY) -> bytes:
    """The file :func:`save_image` would write, as bytes."""
    _check(loaded, pixels, keep_metadata, keep_gps)
    buffer = io.BytesIO()
    _encode(loaded, pixels, buffer, keep_metadata, keep_gps, jpeg_quality)
    return buffer.getvalue()


def _load(im: Image.Image, path: Path) -> LoadedImage:
    frames = getattr(im, "n_frames", 1)
    if frames > 1 and im.format != "MPO":
        raise UnsupportedInputError(f"{path}: animated or multi-page image ({frames} frames), not supported yet")
    fmt = "JPEG" if im.format == "MPO" else im.format
    colour16 = ";16" in _rawmode(im) and im.mode in ("RGB", "RGBA", "LA")  # Pillow would decode these to 8 bits
    exif = im.getexif()  # (loads a PNG, so after _rawmode)
    orientation = exif.get(ExifTags.Base.Orientation, 1)
    dpi = im.info.get("dpi")
    meta: dict[str, Any] = {
        "path": path, "format": fmt, "icc_profile": im.info.get("icc_profile") or None,
        "exif": filter_exif(exif, keep_gps=True), "lossless": fmt != "JPEG",
        "dpi": (float(dpi[0]), float(dpi[1])) if dpi and dpi[0] > 0 and dpi[1] > 0 else None,
    }
    options: dict[str, Any] = {}
    if fmt == "JPEG" and (sampling := JpegImagePlugin.get_sampling(im)) >= 0:
        options["subsampling"] = sampling
    elif fmt == "WEBP":
        meta["lossless"] = _webp_is_lossless(path)
    elif fmt == "TIFF":
        compression = im.info.get("compression", "raw")
        meta["lossless"] = compression != "jpeg"
        options["compression"] = compression if compression in _TIFF_LOSSLESS else "tiff_adobe_deflate"

    transform = _ORIENT.get(orientation)
    if colour16:
        if "transparency" in im.info:
            raise UnsupportedInputError(f"{path}: 16-bit image with a transparent colour key")
        mode, pixels, alpha = _decode_colour16(im, path, transform)
        source = palette = None
    else:
        mode, pixels, alpha, source, palette = _decode(im, path, options)
        if transform is not None and not _upright_by_pillow(im):
            pixels, alpha, source = (None if a is None else np.ascontiguousarray(transform(a))
                                     for a in (pixels, alpha, source))
    if meta["dpi"] and orientation in (5, 6, 7, 8):
        meta["dpi"] = meta["dpi"][::-1]
    for array in (pixels, alpha, source):
        if array is not None:
            array.flags.writeable = False
    return LoadedImage(mode=mode, pixels=pixels, alpha=alpha, source=source, palette=palette, options=options, **meta)


def _decode(im: Image.Image, path: Path, options: dict[str, Any]):
    im.load()
    mode = im.mode
    if "transparency" in im.info and mode in ("1", "L", "RGB"):
        # A colour key would let redacted pixels turn transparent (or opaque): make the alpha explicit.
        if mode == "RGB":
            im, mode = im.convert("RGBA"), "RGBA"
        else:
            transparency = im.info["transparency"]
            im = im.convert("L")
            im.putpalette(bytes(v for v in range(256) for _ in range(3)))
            im.info["transparency"] = transparency
            mode = "P"
    elif "transparency" in im.info and mode not in ("P", "RGBA", "LA"):
        raise UnsupportedInputError(f"{path}: {mode} image with a transparent colour key")
    if mode == "PA":
        im, mode = im.convert("RGBA"), "RGBA"
    if mode == "P":
        return _decode_palette(im, options)
    if mode in ("1", "L", "I;16", "I;16L", "I;16B"):
        gray = np.asarray(im.convert("L") if mode == "1" else im)
        gray = gray.astype(gray.dtype.newbyteorder("="), copy=False)
        return ("I;16" if mode.startswith("I;16") else mode), cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB), None, None, None
    if mode == "LA":
        array = np.asarray(im)
        return mode, cv2.cvtColor(array[..., 0], cv2.COLOR_GRAY2RGB), array[..., 1].copy(), None, None
    if mode == "RGB":
        return mode, np.asarray(im), None, None, None
    if mode == "RGBA":
        array = np.asarray(im)
        return mode, cv2.cvtColor(array, cv2.COLOR_RGBA2RGB), array[..., 3].copy(), None, None
    if mode == "CMYK":
        return mode, np.asarray(im.convert("RGB")), None, np.asarray(im), None
    raise UnsupportedInputError(f"{path}: unsupported pixel mode {mode}")


def _decode_palette(im: Image.Image, options: dict[str, Any]):
    indices = np.asarray(im)
    palette = np.frombuffer(bytes(im.getpalette("RGB") or b""), np.uint8).reshape(-1, 3)[:256]
    lookup = np.zeros((256, 3), np.uint8)
    lookup[: len(palette)] = palette
    pixels = lookup[indices]
    transparency = im.info.get("transparency")
    if transparency is None:
        return "P", pixels, None, indices, palette
    alpha = _palette_alpha(transparency)[indices]
    if ((alpha > 0) & (alpha < 255)).any():  # partial alpha can't stay exact while redacted pixels are re-indexed
        return "RGBA", pixels, alpha, None, None
    options["transparency"] = transparency
    return "P", pixels, alpha, indices, palette


def _decode_colour16(im: Image.Image, path: Path, transform: Callable[[np.ndarray], np.ndarray] | None):
    """16-bit samples from OpenCV, checked against Pillow's upright 8-bit decode of the same file.

    The check catches truncation and tells whether OpenCV turned the image upright itself (it does for
    TIFF in some versions, whatever the flags).
    """
    im.load()
    reference = np.asarray(im)
    if transform is not None and not _upright_by_pillow(im):
        reference = transform(reference)
    array = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16 or array.ndim != 3 or array.shape[2] not in (2, 3, 4):
        raise InvalidInputError(f"{path}: OpenCV cannot decode this 16-bit image")
    if array.shape[2] == 2:
        rgb, alpha = cv2.cvtColor(array[..., 0], cv2.COLOR_GRAY2RGB), array[..., 1]
    elif array.shape[2] == 3:
        rgb, alpha = cv2.cvtColor(array, cv2.COLOR_BGR2RGB), None
    else:
        rgb, alpha = cv2.cvtColor(array, cv2.COLOR_BGRA2RGB), array[..., 3]
    if reference.shape[2] == 2:  # LA
        ref_rgb, ref_alpha = cv2.cvtColor(reference[..., 0].copy(), cv2.COLOR_GRAY2RGB), reference[..., 1]
    else:
        ref_rgb, ref_alpha = reference[..., :3], (reference[..., 3] if reference.shape[2] == 4 else None)
    if (alpha is None) != (ref_alpha is None):
        raise InvalidInputError(f"{path}: OpenCV and Pillow disagree on the alpha channel")
    for turn in (None, transform) if transform is not None else (None,):
        c_rgb, c_alpha = (rgb, alpha) if turn is None else (turn(rgb), None if alpha is None else turn(alpha))
        if c_rgb.shape == ref_rgb.shape and np.array_equal(c_rgb >> 8, ref_rgb) and (
                alpha is None or np.array_equal(c_alpha >> 8, ref_alpha)):
            return (("RGB;16" if alpha is None else "RGBA;16"), np.ascontiguousarray(c_rgb),
                    None if alpha is None else np.ascontiguousarray(c_alpha))
    raise InvalidInputError(f"{path}: corrupt 16-bit image (its samples do not match its 8-bit decode)")


def _check_jpeg_data(file: IO[bytes], path: Path) -> None:
    """Refuse a JPEG whose data libjpeg-turbo had to conceal, which Pillow decodes without a word.

    libjpeg reports damage it can work around (a scan cut short, e.g. a file cut and closed with an end
    marker, whose missing part it fills with grey; bad Huffman codes; missing restart markers; stray
    bytes before a marker) as warnings, and Pillow ignores them. TurboJPEG's strict mode, through simplejpeg,
    makes any warning an error. The check decodes at 1/8 scale in grey: the entropy data, where the
    damage is found, is read in full, but little is spent on the inverse DCT and colour conversion.
    Only the primary image of an MPO file is read, the one veil keeps.

    A layout TurboJPEG's API cannot decode at all, strict or not (Cb and Cr sampled differently, 3x1 and
    other unusual sampling factors) but Pillow could, is not checked.
    """
    file.seek(0)
    data = file.read()
    scaled = {"colorspace": "GRAY", "min_height": 1, "min_width": 1}  # the smallest scale, 1/8
    try:
        simplejpeg.decode_jpeg(data, strict=True, **scaled)
    except ValueError as error:
        try:
            simplejpeg.decode_jpeg(data, strict=False, **scaled)
        except ValueError:
            return  # TurboJPEG cannot decode this layout at all: no check possible (Pillow decoded it)
        raise InvalidInputError(f"{path}: corrupt or truncated image ({error})") from error


def _upright_by_pillow(im: Image.Image) -> bool:
    """Whether loading applied the orientation: Pillow does it for TIFF (dropping the tag), not for other formats."""
    return im.format == "TIFF" and ExifTags.Base.Orientation not in im.tag_v2


def _palette_alpha(transparency: int | bytes) -> np.ndarray:
    alpha = np.full(256, 255, np.uint8)
    if isinstance(transparency, int):
        alpha[transparency] = 0
    else:
        alpha[: len(transparency)] = np.frombuffer(transparency[:256], np.uint8)
    return alpha


def _rawmode(im: Image.Image) -> str:
    args = im.tile[0][3] if im.tile else None
    rawmode = args[0] if isinstance(args, tuple) and args else args
    return rawmode if isinstance(rawmode, str) else ""


_SIGNATURES = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG", b"II*\0": "TIFF", b"MM\0*": "TIFF",
               b"GIF87a": "GIF", b"GIF89a": "GIF", b"BM": "BMP"}


def _signature(file: IO[bytes]) -> str | None:
    """The format a file's first bytes announce (WebP: RIFF....WEBP), whether or not the rest is readable."""
    file.seek(0)
    start = file.read(12)
    if start[:4] == b"RIFF" and start[8:12] == b"WEBP":
        return "WebP"
    return next((kind for magic, kind in _SIGNATURES.items() if start.startswith(magic)), None)


def _webp_is_lossless(path: Path) -> bool:
    with open(path, "rb") as file:
        file.seek(12)  # RIFF header
        while len(header := file.read(8)) == 8:
            kind, size = header[:4], int.from_bytes(header[4:], "little")
            if kind in (b"VP8L", b"VP8 "):
                return kind == b"VP8L"
            file.seek(size + (size & 1), os.SEEK_CUR)
    return False


def _check(loaded: LoadedImage, pixels: np.ndarray, keep_metadata: bool, keep_gps: bool) -> None:
    if pixels.shape != loaded.pixels.shape or pixels.dtype != loaded.pixels.dtype:
        expected, got = f"{loaded.pixels.shape} {loaded.pixels.dtype}", f"{pixels.shape} {pixels.dtype}"
        raise ValueError(f"pixels must be {expected}, got {got}")
    if keep_gps and not keep_metadata:
        raise ValueError("keep_gps needs keep_metadata")


def _encode(loaded: LoadedImage, pixels: np.ndarray, file: IO[bytes], keep_metadata: bool, keep_gps: bool,
            jpeg_quality: int) -> None:
    exif = filter_exif(loaded.exif, keep_gps=keep_gps) if keep_metadata else None
    if loaded.mode in _COLOUR16:
        _encode_colour16(loaded, pixels, file, exif)
        return
    params = dict(loaded.options)
    if loaded.icc_profile:
        params["icc_profile"] = loaded.icc_profile
    if loaded.dpi:
        params["dpi"] = loaded.dpi
    if exif:
        params["exif"] = exif
    if loaded.format == "JPEG" or (loaded.format == "WEBP" and not loaded.lossless):
        params["quality"] = jpeg_quality
    if loaded.format == "WEBP":
        params["lossless"] = loaded.lossless
    # A fresh image carries no info dict, so Pillow can't copy any source metadata into the output.
    _to_pil(loaded, pixels).save(file, format=loaded.format, **params)


def _to_pil(loaded: LoadedImage, pixels: np.ndarray) -> Image.Image:
    mode = loaded.mode
    if mode == "RGB":
        return Image.fromarray(pixels)
    if mode == "RGBA":
        return Image.fromarray(np.dstack((pixels, loaded.alpha)))
    if mode in ("1", "L", "LA", "I;16"):
        gray = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
        if mode == "1":
            return Image.fromarray(gray >= 128)
        return Image.fromarray(np.dstack((gray, loaded.alpha)) if mode == "LA" else gray)
    changed = (pixels != loaded.pixels).any(axis=2)
    if mode == "CMYK":
        cmyk = loaded.source.copy()
        if changed.any():
            cmyk[changed] = np.asarray(Image.fromarray(pixels[changed][None]).convert("CMYK"))[0]
        return Image.fromarray(cmyk, "CMYK")
    if mode == "P":
        indices = loaded.source.copy()
        if loaded.alpha is not None:  # transparent pixels keep their (shared, invisible) entry: alpha stays exact
            changed &= loaded.alpha == 255
        if changed.any():
            transparency = loaded.options.get("transparency")
            alpha = np.full(256, 255, np.uint8) if transparency is None else _palette_alpha(transparency)
            opaque = np.flatnonzero(alpha[: len(loaded.palette)] == 255)
            target = Image.new("P", (1, 1))
            target.putpalette(loaded.palette[opaque].tobytes())
            nearest = Image.fromarray(pixels[changed][None]).quantize(palette=target, dither=Image.Dither.NONE)
            indices[changed] = opaque[np.asarray(nearest)[0]]
        image = Image.fromarray(indices)
        image.putpalette(loaded.palette.tobytes())
        return image
    raise AssertionError(f"unhandled mode {mode}")


def _encode_colour16(loaded: LoadedImage, pixels: np.ndarray, file: IO[bytes], exif: bytes | None) -> None:
    if loaded.format == "TIFF":
        import tifffile  # only needed here: Pillow can't write 16-bit colour

        buffer = io.BytesIO()  # tifffile wants a named file or a BytesIO
        tifffile.imwrite(
            buffer, pixels if loaded.alpha is None else np.dstack((pixels, loaded.alpha)), photometric="rgb",
            extrasamples=None if loaded.alpha is None else ["unassalpha"], compression="zlib",
            iccprofile=loaded.icc_profile, resolution=loaded.dpi, resolutionunit="inch" if loaded.dpi else "none",
            software=False, metadata=None,
        )
        file.write(buffer.getbuffer())
        return
    if loaded.alpha is None:
        bgr = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    else:
        bgr = cv2.cvtColor(np.dstack((pixels, loaded.alpha)), cv2.COLOR_RGBA2BGRA)
    ok, png = cv2.imencode(".png", bgr)
    if not ok:
        raise OutputError(f"{loaded.path}: OpenCV could not encode a 16-bit PNG")
    file.write(add_png_metadata(png.tobytes(), icc_profile=loaded.icc_profile, dpi=loaded.dpi, exif=exif))
