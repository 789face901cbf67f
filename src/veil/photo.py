"""The photo job: load -> anonymize -> write atomically with the metadata policy -> manifest record."""

from __future__ import annotations

from pathlib import Path

from veil.manifest import image_record
from veil.media.image import DEFAULT_JPEG_QUALITY, DEFAULT_MAX_PIXELS, load_image, save_image
from veil.models import sha256_file
from veil.pipeline import Anonymizer


def anonymize_photo(src: Path, dst: Path, anonymizer: Anonymizer, *, keep_metadata: bool = False,
                    keep_gps: bool = False, jpeg_quality: int = DEFAULT_JPEG_QUALITY,
                    max_pixels: int = DEFAULT_MAX_PIXELS) -> dict:
    """Anonymize one image file into ``dst`` and return its manifest record.

    Any error propagates before anything exists at ``dst`` (save_image writes atomically).
    """
    loaded = load_image(src, max_pixels=max_pixels)
    result = anonymizer.anonymize(loaded.pixels)
    dst.parent.mkdir(parents=True, exist_ok=True)
    save_image(loaded, result.image, dst, keep_metadata=keep_metadata, keep_gps=keep_gps, jpeg_quality=jpeg_quality)
    height, width = result.image.shape[:2]
    return image_record(input=src, output=dst, output_sha256=sha256_file(dst), width=width, height=height,
                        model=anonymizer.model, settings=anonymizer.settings, regions=result.regions)
