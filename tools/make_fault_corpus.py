"""Generate veil's fault-and-abuse corpus: broken, hostile and unusual images and videos.

Usage: python tools/make_fault_corpus.py OUT_DIR     (writes the files, prints each case and what veil must do)

Every file is made here from scikit-image's public-domain astronaut photo (the ``test`` extra), so no
binary is kept in the repository. Each case says what veil must do with it:

- ``anonymized``: an output that decodes fully, every frame, in which every face is redacted;
- ``refused``: one error line naming the file, with a reason matching ``reason``, and no output at all.

``faces`` gives the face boxes of each frame (upright pixels), for refused cases too: whatever happens,
an output that exists must not show one of them. tests/reliability/ runs ``veil`` over the whole
corpus and checks every case; docs/reliability.md lists the outcomes.
"""

from __future__ import annotations

import io
import struct
import sys
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

_FACE = (176, 50, 276, 180)  # the astronaut's face in skimage.data.astronaut(), as in tests/synthetic.py
_CROP = (136, 10, 316, 226)  # her head with some context: 180 x 216
FACE = (_FACE[0] - _CROP[0], _FACE[1] - _CROP[1], _FACE[2] - _CROP[0], _FACE[3] - _CROP[1])
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm")

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Case:
    name: str  # file name inside the corpus folder
    expect: str  # "anonymized" or "refused"
    what: str  # the abuse or oddity, in a few words
    reason: str = ""  # refused: a regex the error line must match
    faces: list[list[Box]] = field(default_factory=list)  # the face boxes of each frame

    @property
    def kind(self) -> str:
        return "video" if Path(self.name).suffix in VIDEO_SUFFIXES else "image"


def head() -> np.ndarray:
    """The astronaut's head, 216 x 180 RGB; her face is at FACE."""
    from skimage.data import astronaut

    x1, y1, x2, y2 = _CROP
    return np.ascontiguousarray(astronaut()[y1:y2, x1:x2])


def cases() -> list[Case]:
    """The cases, without making their files."""
    return [case for case, _ in _image_cases() + _video_cases()]


def generate(folder: Path) -> list[Case]:
    """Write every case into ``folder`` (created if needed) and return the cases."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for case, make in _image_cases() + _video_cases():
        (folder / case.name).write_bytes(make())
    return cases()


# ---------------------------------------------------------------------------------------------- images

def _encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(width: int, height: int, bit_depth: int, colour: int, idat: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _zlib_bomb(width: int, height: int) -> bytes:
    """A 1-bit PNG of zeros: some 50 KB that would decode to width x height pixels."""
    row = bytes(1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row * 256) for _ in range(height // 256)]
    parts += [compressor.compress(row * (height % 256)), compressor.flush()]
    return _png(width, height, 1, 0, b"".join(parts))


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header claims width x height."""
    data = bytearray(_encode(Image.fromarray(head()), "JPEG"))
    at = data.index(b"\xff\xc0") + 5
    data[at : at + 4] = struct.pack(">HH", height, width)
    return bytes(data)


def _two_frames(fmt: str, **params) -> bytes:
    """Two frames, the face only on the second: writing the first frame alone would pass a face-free check."""
    rgb = head()
    frames = [Image.fromarray(np.full_like(rgb, 90)), Image.fromarray(rgb)]
    if fmt == "GIF":
        frames = [f.quantize(128) for f in frames]
    return _encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, **params)


def _exif_rotated() -> bytes:
    """Pixels stored turned a quarter anticlockwise, with EXIF orientation 6: upright it is the head."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _encode(Image.fromarray(np.ascontiguousarray(np.rot90(head(), 1))), "JPEG", quality=92, exif=exif.tobytes())


def _flip(data: bytes, start: float, count: int) -> bytes:
    at = int(len(data) * start)
    return data[:at] + bytes(b ^ 0x5A for b in data[at : at + count]) + data[at + count :]


def _cut(data: bytes, keep: float = 0.6) -> bytes:
    return data[: int(len(data) * keep)]


def _png16(rgb: np.ndarray) -> bytes:
    import cv2

    ok, data = cv2.imencode(".png", rgb[..., ::-1].astype(np.uint16) * 257)
    assert ok
    return data.tobytes()


def _tiff16(rgb: np.ndarray) -> bytes:
    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, rgb.astype(np.uint16) * 257, photometric="rgb")
    return buffer.getvalue()


def _image_cases() -> list[tuple[Case, Callable[[], bytes]]]:
    rgb = head()
    pil = Image.fromarray(rgb)
    face = [[FACE]]
    jpeg = _encode(pil, "JPEG", quality=92)
    png = _encode(pil, "PNG")
    bomb = "exceeds the limit|refused before decoding"
    frames = "animated or multi-page"
    bad = "corrupt|truncated"
    ok = "anonymized"
    return [
        (Case("empty.jpg", "refused", "zero-byte file", "empty file"), lambda: b""),
        (Case("empty.png", "refused", "zero-byte file", "empty file"), lambda: b""),
        (Case("truncated.jpg", "refused", "JPEG cut at 60%", bad, face), lambda: _cut(jpeg)),
        (Case("truncated-progressive.jpg", "refused", "progressive JPEG cut at 95%", bad, face),
         lambda: _cut(_encode(pil, "JPEG", progressive=True), 0.95)),
        (Case("early-eoi.jpg", "refused", "JPEG cut at 60% and closed with an end marker", bad, face),
         lambda: _cut(jpeg) + b"\xff\xd9"),
        (Case("truncated.png", "refused", "PNG cut at 60%", bad, face), lambda: _cut(png)),
        (Case("truncated-16bit.png", "refused", "16-bit grey PNG cut at 95%", bad, face),
         lambda: _cut(_encode(Image.fromarray(rgb[..., 0].astype(np.uint16) * 257), "PNG"), 0.95)),
        (Case("truncated.tif", "refused", "uncompressed TIFF cut at 60%", bad, face), lambda: _cut(_encode(pil, "TIFF"))),
        (Case("truncated-lzw.tif", "refused", "LZW TIFF cut at 60% (its directory is at the end)", bad, face),
         lambda: _cut(_encode(pil, "TIFF", compression="tiff_lzw"))),
        (Case("truncated.webp", "refused", "WebP cut at 60%", bad, face), lambda: _cut(_encode(pil, "WEBP"))),
        (Case("truncated.gif", "refused", "GIF cut at 60%", bad, face), lambda: _cut(_encode(pil.quantize(256), "GIF"))),
        (Case("truncated.bmp", "refused", "BMP cut at 60%", bad, face), lambda: _cut(_encode(pil, "BMP"))),
        (Case("corrupt-scan.jpg", "refused", "JPEG scan data flipped mid-file", bad, face), lambda: _flip(jpeg, 0.5, 200)),
        (Case("corrupt-idat.png", "refused", "PNG pixel data flipped mid-file (CRC fails)", bad, face),
         lambda: _flip(png, 0.5, 50)),
        (Case("header-only.png", "refused", "PNG signature and header, no data", bad), lambda: png[:33]),
        (Case("text.jpg", "refused", "a text file named .jpg", "not a JPEG"), lambda: b"hello, not an image\n" * 20),
        (Case("video.jpg", "refused", "an MP4 named .jpg", "not a JPEG"), lambda: video_bytes("mp4")),
        (Case("bomb-header.png", "refused", "PNG header claiming 100000 x 100000", bomb),
         lambda: _png(100_000, 100_000, 8, 2, zlib.compress(bytes(1000)))),
        (Case("bomb-zlib.png", "refused", "zlib bomb: 50 KB, 20000 x 20000 pixels", bomb), lambda: _zlib_bomb(20_000, 20_000)),
        (Case("bomb-header.jpg", "refused", "JPEG header claiming 60000 x 60000", bomb), lambda: _jpeg_claiming(60_000, 60_000)),
        (Case("animated.gif", "refused", "animated GIF, face on frame 2", frames), lambda: _two_frames("GIF")),
        (Case("animated.webp", "refused", "animated WebP, face on frame 2", frames), lambda: _two_frames("WEBP", lossless=True)),
        (Case("animated.png", "refused", "APNG, face on frame 2", frames), lambda: _two_frames("PNG")),
        (Case("multipage.tif", "refused", "2-page TIFF, face on page 2", frames), lambda: _two_frames("TIFF")),
        (Case("palette.png", ok, "palette (P) PNG", faces=face), lambda: _encode(pil.quantize(256), "PNG")),
        (Case("palette-transparent.png", ok, "palette PNG with a transparent entry", faces=face),
         lambda: _encode(pil.quantize(255), "PNG", transparency=255)),
        (Case("single-frame.gif", ok, "single-frame GIF", faces=face), lambda: _encode(pil.quantize(256), "GIF")),
        (Case("cmyk.jpg", ok, "CMYK JPEG", faces=face), lambda: _encode(pil.convert("CMYK"), "JPEG", quality=92)),
        (Case("cmyk.tif", ok, "CMYK TIFF", faces=face), lambda: _encode(pil.convert("CMYK"), "TIFF")),
        (Case("rgb16.png", ok, "16-bit RGB PNG", faces=face), lambda: _png16(rgb)),
        (Case("rgb16.tif", ok, "16-bit RGB TIFF", faces=face), lambda: _tiff16(rgb)),
        (Case("gray16.png", ok, "16-bit grey PNG", faces=face),
         lambda: _encode(Image.fromarray(np.asarray(pil.convert("L")).astype(np.uint16) * 257), "PNG")),
        (Case("gray.jpg", ok, "greyscale JPEG", faces=face), lambda: _encode(pil.convert("L"), "JPEG", quality=92)),
        (Case("rgba.png", ok, "RGBA PNG", faces=face),
         lambda: _encode(Image.fromarray(np.dstack((rgb, np.full(rgb.shape[:2], 200, np.uint8)))), "PNG")),
        (Case("bilevel.png", ok, "1-bit PNG (no face a detector can see)"), lambda: _encode(pil.convert("1"), "PNG")),
        (Case("exif-rotated.jpg", ok, "EXIF orientation 6", faces=face), _exif_rotated),
        (Case("png-named.jpg", ok, "a PNG named .jpg (written as PNG)", faces=face), lambda: png),
        (Case("jpeg-named.png", ok, "a JPEG named .png (written as JPEG)", faces=face), lambda: jpeg),
        (Case("lossy.webp", ok, "lossy WebP", faces=face), lambda: _encode(pil, "WEBP", quality=90)),
        (Case("image.bmp", ok, "BMP", faces=face), lambda: _encode(pil, "BMP")),
        (Case("odd-size.png", ok, "odd width and height (179 x 215)", faces=face),
         lambda: _encode(Image.fromarray(rgb[:215, :179]), "PNG")),
        (Case("one-pixel.png", ok, "1 x 1 image"), lambda: _encode(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG")),
        (Case("one-row.png", ok, "4000 x 1 image"), lambda: _encode(Image.new("RGB", (4000, 1), (9, 9, 9)), "PNG")),
    ]


# ---------------------------------------------------------------------------------------------- videos

VIDEO_FRAMES = 12
_STEP = 2  # the head moves this many pixels right per frame


def video_frames(width: int, height: int) -> tuple[list[np.ndarray], list[list[Box]]]:
    """The head moving right over a grey background, and the face box of each frame."""
    rgb = head()[:height, :width]
    frames, faces = [], []
    for index in range(VIDEO_FRAMES):
        frame = np.full((height, width, 3), 90, np.uint8)
        dx = index * _STEP
        visible = min(rgb.shape[1], width - dx)
        frame[: rgb.shape[0], dx : dx + visible] = rgb[:, :visible]
        frames.append(frame)
        x1, y1, x2, y2 = FACE
        faces.append([(x1 + dx, y1, x2 + dx, y2)])
    return frames, faces


def video_bytes(fmt: str, width: int = 192, height: int = 224, *, codec: str = "libx264", pix_fmt: str = "yuv420p",
                 pts: list[int] | None = None, options: dict[str, str] | None = None) -> bytes:
    import av

    frames, _ = video_frames(width, height)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip"
        with av.open(str(path), "w", format=fmt, container_options=options or {}) as container:
            stream = container.add_stream(codec, rate=10)
            stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
            if codec == "libx264":
                stream.codec_context.options = {"preset": "ultrafast", "crf": "18", "bf": "0"}
            for index, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = index
                for packet in stream.encode(frame):
                    if pts is not None:  # intra-only codecs: one packet per frame, decoded as stored
                        packet.pts, packet.dts = pts[index], index
                    container.mux(packet)
            container.mux(stream.encode(None))
        return path.read_bytes()


def _video_cases() -> list[tuple[Case, Callable[[], bytes]]]:
    _, faces = video_frames(192, 224)
    _, odd_faces = video_frames(191, 223)
    def faststart() -> bytes:  # the index first, so a cut file still opens
        return video_bytes("mp4", options={"movflags": "faststart"})

    ok = "anonymized"
    bad = "corrupt or truncated"
    # Intra-only (every frame a key frame), stored with presentation times that go back (never below dts).
    backwards = [2, 5, 3, 4, 8, 6, 7, 11, 9, 10, 13, 12]
    return [
        (Case("empty.mp4", "refused", "zero-byte video", "not a readable video"), lambda: b""),
        (Case("text.mp4", "refused", "a text file named .mp4", "not a readable video"),
         lambda: b"hello, not a video\n" * 20),
        (Case("truncated-index-last.mp4", "refused", "MP4 cut at 60%, its index (moov) at the end", "not a readable video",
              faces), lambda: _cut(video_bytes("mp4"))),
        (Case("truncated.mp4", "refused", "MP4 cut at 60%, its index first: 7 of 12 frames lost", bad, faces),
         lambda: _cut(faststart())),
        (Case("truncated.mkv", "refused", "Matroska cut at 60%", bad, faces), lambda: _cut(video_bytes("matroska"))),
        (Case("corrupt-packets.mp4", "refused", "H.264 data flipped mid-stream", bad, faces),
         lambda: _flip(faststart(), 0.55, 400)),
        (Case("unknown-codec.avi", "refused", "AVI whose video codec tag is unknown (found by the fuzzer)",
              "no video stream|codec"), lambda: video_bytes("avi", codec="mpeg4").replace(b"FMP4", b"ZZZZ")),
        (Case("clip.mp4", ok, "plain H.264 MP4 (control)", faces=faces), lambda: video_bytes("mp4")),
        (Case("odd-size.mkv", ok, "191 x 223 (odd), H.264 4:4:4", faces=odd_faces),
         lambda: video_bytes("matroska", 191, 223, pix_fmt="yuv444p")),
        (Case("odd-size-420.mkv", ok, "191 x 223 (odd), FFV1 4:2:0", faces=odd_faces),
         lambda: video_bytes("matroska", 191, 223, codec="ffv1")),
        (Case("mpeg4.avi", ok, "AVI, MPEG-4 part 2 (timestamps from frame numbers)", faces=faces),
         lambda: video_bytes("avi", codec="mpeg4")),
        (Case("no-timestamps.mp4", ok, "raw H.264 stream named .mp4: no timestamps at all", faces=faces),
         lambda: video_bytes("h264")),
        (Case("backwards-pts.mkv", "refused", "presentation times that go back (intra-only MJPEG)", "writing failed",
              faces), lambda: video_bytes("matroska", codec="mjpeg", pix_fmt="yuvj420p", pts=backwards)),
        (Case("image-named.mp4", ok, "a PNG named .mp4 (FFmpeg reads it as a one-frame video)", faces=[[FACE]]),
         lambda: _encode(Image.fromarray(head()), "PNG")),
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    for case in generate(Path(argv[0])):
        print(f"{case.name:28} {case.expect:10} {case.what}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
