"""Products' pictures as files: read and checked once, stored once by their content, and their
thumbnails made once, through Django's storage API (STORAGES["default"]).

A picture is kept as it came, under the hash of its content (products/3f/3f9a...c1.jpg); each
thumbnail is named after it with its width (products/3f/3f9a...c1-320w.webp). A new picture is a
new name, so a browser or proxy keeping a file for a year (nginx's header) never shows an old
one, and storing a picture that is there already writes nothing. Pages only name the files: the
thumbnails are made when a picture is stored (admin, the demo seed) or by
`manage.py picture_thumbnails`, never by a request.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, default_storage
from PIL import Image, ImageOps, UnidentifiedImageError

# The widths of the thumbnails, in pixels: a card (160-320, twice that on a dense screen), the
# product page (640-960). Never wider than the picture: a small one gets its own width instead.
THUMBNAIL_WIDTHS = (160, 320, 640, 960)
THUMBNAIL_QUALITY = 80
# libwebp's effort (0-6): 2 takes a third to a quarter of the time of its default 4, for files
# within a few percent of its size (measured on drawings and photos at 320 and 960 px).
THUMBNAIL_METHOD = 2
FOLDER = "products"
# The formats taken, with the extension their files get (never the one the upload claims).
FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
# A 40 megapixel photo decodes to 160 MB: more is refused from its header, before any decoding.
MAX_PIXELS = 40_000_000
MAX_SIDE = 12_000
MAX_BYTES = 10 * 1024 * 1024  # nginx's client_max_body_size
# EXIF orientations that turn the picture a quarter: its upright width is its stored height.
QUARTER_TURNS = {5, 6, 7, 8}
EXIF_ORIENTATION = 0x0112


class PictureRefused(Exception):
    """A file that is not a picture the shop takes; `str()` says why, for the one who sent it."""

    def __init__(self, reason: str, code: str):
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True)
class StoredPicture:
    """A picture in storage: its name (a product's `picture`) and its size, upright."""

    name: str
    width: int
    height: int


@dataclass(frozen=True)
class PictureRead:
    """A picture read and checked: its content's hash, its extension, its size upright, and the
    image decoded (upright, RGB or RGBA, at least as large as the largest thumbnail needs)."""

    file: File
    digest: str
    extension: str
    width: int
    height: int
    image: Image.Image


def picture_read(file: File) -> PictureRead:
    """Read a picture from an uploaded or stored file; raise PictureRefused if the shop does not
    take it (not an image, another format, too large, truncated)."""
    if file.size is not None and file.size > MAX_BYTES:
        raise PictureRefused(f"The file is larger than {MAX_BYTES // 1024 // 1024} MB.", "too_many_bytes")
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    try:
        image = Image.open(file)
        extension = FORMATS.get(image.format or "")
        if extension is None:
            raise PictureRefused("Upload a JPEG, PNG, WebP or GIF picture.", "format")
        width, height = image.size
        # Below Pillow's bomb guard (a warning past 89 megapixels, an error past 179), from the
        # header: nothing too large is ever decoded.
        if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
            raise _too_large(width, height)
        if image.getexif().get(EXIF_ORIENTATION) in QUARTER_TURNS:
            width, height = height, width
        # A JPEG decodes at a fraction of its size when that is still enough: far quicker.
        image.draft("RGB", (min(image.width, max(THUMBNAIL_WIDTHS)),) * 2)
        image = _upright(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # the warning: where made an error
        raise _too_large() from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        raise PictureRefused(
            "The file is not a picture, or a damaged one: upload a JPEG, PNG, WebP or GIF picture.",
            "not_a_picture",
        ) from error
    finally:
        file.seek(0)
    return PictureRead(file, digest.hexdigest(), extension, width, height, image)


def _too_large(width: int | None = None, height: int | None = None) -> PictureRefused:
    size = f" is {width:,} x {height:,} pixels" if width and height else " is too large"
    return PictureRefused(
        f"The picture{size}: at most {MAX_PIXELS // 1_000_000} megapixels and {MAX_SIDE:,} pixels "
        "a side are taken.",
        "too_large",
    )


def _upright(image: Image.Image) -> Image.Image:
    """Return the image decoded, turned as its EXIF orientation says, in RGB or RGBA."""
    image.load()
    upright = ImageOps.exif_transpose(image) or image
    transparent = upright.mode in {"RGBA", "LA", "PA"} or "transparency" in upright.info
    return upright.convert("RGBA" if transparent else "RGB")


def picture_store(picture: PictureRead, *, storage: Storage | None = None) -> StoredPicture:
    """Store a picture read by `picture_read` and make its thumbnails, unless they are there."""
    storage = storage or default_storage
    name = f"{FOLDER}/{picture.digest[:2]}/{picture.digest[:32]}.{picture.extension}"
    if not storage.exists(name):
        name = storage.save(name, picture.file)
    stored = StoredPicture(name, picture.width, picture.height)
    thumbnails_make(stored, picture.image, storage=storage)
    return stored


def picture_widths(width: int) -> list[int]:
    """Return the widths of a picture's thumbnails: THUMBNAIL_WIDTHS, none wider than the picture."""
    return sorted({min(each, width) for each in THUMBNAIL_WIDTHS})


def thumbnail_name(picture: str, width: int) -> str:
    """Return the name of a picture's thumbnail `width` pixels wide."""
    path = PurePosixPath(picture)
    return str(path.with_name(f"{path.stem}-{width}w.webp"))


def thumbnail_height(width: int, height: int, thumbnail_width: int) -> int:
    """Return the height of a thumbnail of a `width` x `height` picture: the picture's proportions."""
    return max(1, round(height * thumbnail_width / width))


def thumbnails_missing(picture: StoredPicture, *, storage: Storage | None = None) -> list[int]:
    """Return the widths of a stored picture's thumbnails that are not in storage."""
    storage = storage or default_storage
    return [
        width
        for width in picture_widths(picture.width)
        if not storage.exists(thumbnail_name(picture.name, width))
    ]


def thumbnails_make(
    picture: StoredPicture, image: Image.Image, *, storage: Storage | None = None
) -> list[str]:
    """Write the thumbnails of a stored picture that are not in storage yet; return their names."""
    storage = storage or default_storage
    made = []
    for width in thumbnails_missing(picture, storage=storage):
        size = (width, thumbnail_height(picture.width, picture.height, width))
        # reducing_gap: shrink by whole factors first, then resample the last step properly.
        thumbnail = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
        encoded = io.BytesIO()
        thumbnail.save(encoded, "WEBP", quality=THUMBNAIL_QUALITY, method=THUMBNAIL_METHOD)
        made.append(storage.save(thumbnail_name(picture.name, width), ContentFile(encoded.getvalue())))
    return made


def picture_thumbnails_make(picture: StoredPicture, *, storage: Storage | None = None) -> list[str]:
    """Make a stored picture's missing thumbnails, reading its file only if one is missing; return
    their names. Raise FileNotFoundError if the file is gone, PictureRefused if it is no picture."""
    storage = storage or default_storage
    if not thumbnails_missing(picture, storage=storage):
        return []
    with storage.open(picture.name, "rb") as file:
        read = picture_read(File(file, name=picture.name))
    return thumbnails_make(picture, read.image, storage=storage)
