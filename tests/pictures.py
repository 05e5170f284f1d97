"""Pictures for tests: real small images drawn with Pillow, and files that only claim to be one."""

from __future__ import annotations

import io
import struct
import zlib

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw


def picture_bytes(
    width: int = 800, height: int = 600, *, color: str = "teal", kind: str = "JPEG", **save
) -> bytes:
    """Return a picture drawn with Pillow: a disc of `color` on white, encoded as `kind`."""
    image = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).ellipse((width // 4, height // 4, width * 3 // 4, height * 3 // 4), fill=color)
    encoded = io.BytesIO()
    image.save(encoded, kind, **save)
    return encoded.getvalue()


def upload(content: bytes, name: str = "shirt.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def png_claiming(width: int, height: int) -> bytes:
    """Return a valid PNG of a few bytes whose header says `width` x `height` pixels: the shape of a
    decompression bomb, which decodes (if let) to far more memory than its size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )
