"""Product pictures for the demo, drawn here so it needs no download.

The seed gives them to Pasar and the demo storefront serves the same ones, so a
product looks the same in the shop's grid and in the player. A kawung motif
(the four-petal batik pattern) in the product's colour, with its name on a card.
"""

from __future__ import annotations

import io
import textwrap
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

SIZE = 800


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    r, g, bl = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return r, g, bl


def _kawung(draw: ImageDraw.ImageDraw, colour: tuple[int, int, int]) -> None:
    """Rows of four ovals around a dot, offset every other row."""
    tint = _mix(colour, (255, 255, 255), 0.16)
    shade = _mix(colour, (0, 0, 0), 0.12)
    step = 160
    for row in range(-1, SIZE // step + 2):
        for col in range(-1, SIZE // step + 2):
            cx = col * step + (step // 2 if row % 2 else 0)
            cy = row * step
            for dx, dy in ((0, -1), (1, 0), (0, 1), (-1, 0)):
                ox, oy = cx + dx * 38, cy + dy * 38
                w, h = (26, 40) if dx == 0 else (40, 26)
                draw.ellipse((ox - w, oy - h, ox + w, oy + h), fill=tint, outline=shade, width=3)
            draw.ellipse((cx - 7, cy - 7, cx + 7, cy + 7), fill=shade)


@lru_cache(maxsize=64)
def product_picture(title: str, colour: tuple[int, int, int]) -> bytes:
    """An 800×800 JPEG: the motif, and the product's name on a white card."""
    img = Image.new("RGB", (SIZE, SIZE), colour)
    draw = ImageDraw.Draw(img)
    _kawung(draw, colour)
    lines = textwrap.wrap(title, width=24)[:2]
    font = ImageFont.load_default(size=40)
    top = SIZE - 90 - 56 * len(lines)
    draw.rounded_rectangle((56, top, SIZE - 56, SIZE - 56), radius=28, fill=(255, 253, 248))
    for i, line in enumerate(lines):
        draw.text((92, top + 32 + 56 * i), line, fill=(43, 33, 24), font=font)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


__all__ = ["product_picture"]
