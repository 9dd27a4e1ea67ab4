"""Image uploads: validated with Pillow, re-encoded (drops EXIF such as GPS), stored.

Shared by product images and show covers, so it takes no domain objects.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from pasar.catalog.errors import CatalogError

FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}


@dataclass(frozen=True, slots=True)
class CleanImage:
    data: bytes
    width: int
    height: int
    content_type: str
    extension: str


def _clean(raw: bytes, max_pixels: int) -> CleanImage:
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            fmt = probe.format or ""
            width, height = probe.size
            probe.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise CatalogError(
            "invalid", "invalid_image", "the file is not a JPEG, PNG or WebP image"
        ) from None
    if fmt not in FORMATS:
        raise CatalogError(
            "invalid",
            "invalid_image",
            f"{fmt or 'this'} images are not accepted; use JPEG, PNG or WebP",
        )
    if width * height > max_pixels:
        raise CatalogError(
            "too_large",
            "image_too_large",
            f"image is {width}×{height}; at most {max_pixels} pixels",
        )
    try:
        with Image.open(io.BytesIO(raw)) as opened:
            img = ImageOps.exif_transpose(opened)
            out = io.BytesIO()
            if fmt == "JPEG":
                # comment=b"": Pillow would otherwise copy the upload's COM marker.
                img.convert("RGB").save(out, "JPEG", quality=88, optimize=True, comment=b"")
            else:
                img.save(out, fmt)
            width, height = img.size
    except (OSError, ValueError, Image.DecompressionBombError):
        raise CatalogError("invalid", "invalid_image", "the image could not be decoded") from None
    content_type, ext = FORMATS[fmt]
    return CleanImage(out.getvalue(), width, height, content_type, ext)


async def clean_image(raw: bytes, *, max_bytes: int, max_pixels: int) -> CleanImage:
    if len(raw) > max_bytes:
        raise CatalogError(
            "too_large", "image_too_large", f"image is larger than {max_bytes} bytes"
        )
    if not raw:
        raise CatalogError("invalid", "invalid_image", "the file is empty")
    return await asyncio.to_thread(_clean, raw, max_pixels)
