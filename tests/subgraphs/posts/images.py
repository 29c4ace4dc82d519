"""Real image files for the media tests, made with Pillow (and one crafted PNG bomb)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def photo(
    width: int = 1600, height: int = 1200, fmt: str = "JPEG", *, exif_gps: bool = False
) -> bytes:
    im = Image.new("RGB", (width, height))
    px = im.load()
    assert px is not None
    for x in range(0, width, 8):  # a gradient with texture, so encoders have work to do
        for y in range(0, height, 8):
            px[x, y] = (x * 255 // width, y * 255 // height, (x + y) % 256)
    buf = io.BytesIO()
    kwargs: dict = {}
    if exif_gps:
        exif = Image.Exif()
        exif[0x010F] = "SecretCam"  # Make
        exif[0x8825] = {2: (51.0, 30.0, 0.0), 1: "N"}  # GPS IFD
        kwargs["exif"] = exif.tobytes()
    im.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A complete, valid 1-bit PNG of width x height zero pixels: tiny file, huge image."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")
    )
