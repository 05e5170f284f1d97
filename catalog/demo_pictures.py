"""The demo catalog's pictures: a simple drawing of what a product is, in its color, made with Pillow.

One picture per kind of product (its category's template, its noun) and color: products that
differ only by brand look alike, as their photos would. Each is drawn once per seed (a few hundred
at most, whatever the number of products) and stored as an upload would be (catalog.pictures),
so a second seed into the same storage finds every file there and writes nothing. The drawing
depends on nothing random: the same seed, the same pictures.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.files.base import ContentFile
from PIL import Image, ImageDraw

from catalog.pictures import StoredPicture, picture_read, picture_store

SIZE = (640, 480)
SUPERSAMPLE = 2  # drawn twice as large, then halved: smooth edges (ImageDraw does not antialias)
COLORS = {
    "black": (38, 38, 42),
    "white": (246, 246, 242),
    "red": (200, 52, 48),
    "blue": (48, 102, 190),
    "green": (52, 140, 82),
    "grey": (140, 144, 150),
    "navy": (30, 48, 96),
    "beige": (216, 196, 160),
    "yellow": (236, 196, 52),
    "pink": (232, 150, 172),
}
# Products without a color (coffee, books): one per noun, in the order of their template's nouns.
NOUN_COLORS = [(120, 72, 40), (60, 110, 150), (150, 60, 70), (90, 120, 60)]
# A pale background per category template, so a category's cards read as one family.
BACKGROUNDS = [
    (236, 242, 248),
    (246, 240, 232),
    (234, 244, 238),
    (238, 238, 246),
    (244, 236, 242),
    (240, 246, 236),
    (248, 242, 232),
    (244, 238, 230),
    (236, 240, 244),
    (238, 246, 244),
    (248, 246, 232),
    (240, 236, 232),
]

Box = tuple[float, float, float, float]


@dataclass
class Canvas:
    """A picture being drawn, in the coordinates of SIZE; `ink` fills, `line` outlines."""

    draw: ImageDraw.ImageDraw
    ink: tuple[int, int, int]
    line: tuple[int, int, int]
    variant: int  # the noun's place among its template's nouns: a detail that differs

    def box(self, box: Box) -> list[float]:
        return [value * SUPERSAMPLE for value in box]

    def points(self, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(x * SUPERSAMPLE, y * SUPERSAMPLE) for x, y in points]

    def rect(self, box: Box, *, radius: float = 0, fill=None) -> None:
        fill = fill or self.ink
        self.draw.rounded_rectangle(self.box(box), radius * SUPERSAMPLE, fill, self.line, 3 * SUPERSAMPLE)

    def ellipse(self, box: Box, *, fill=None, width: float = 3) -> None:
        self.draw.ellipse(self.box(box), fill=fill, outline=self.line, width=round(width * SUPERSAMPLE))

    def polygon(self, points: list[tuple[float, float]], *, fill=None) -> None:
        self.draw.polygon(self.points(points), fill or self.ink, self.line, 3 * SUPERSAMPLE)

    def stroke(self, points: list[tuple[float, float]], *, width: float = 6, fill=None) -> None:
        width = round(width * SUPERSAMPLE)
        self.draw.line(self.points(points), fill=fill or self.line, width=width, joint="curve")


def _shirt(c: Canvas) -> None:
    sleeve = 250 if c.variant == 3 else 300  # a polo's short sleeves
    c.polygon([(230, 90), (410, 90), (520, 150), (480, sleeve), (430, 230), (430, 420), (210, 420),
               (210, 230), (160, sleeve), (120, 150)])  # fmt: skip
    c.polygon([(280, 90), (320, 150), (360, 90)], fill=(250, 250, 250))
    for y in range(180, 400, 50):
        c.ellipse((314, y, 326, y + 12), fill=c.line, width=1)


def _shoe(c: Canvas) -> None:
    top = 140 if c.variant == 2 else 230  # a boot's shaft
    c.polygon([(150, top), (300, top), (320, 280), (500, 320), (520, 370), (130, 370)])
    c.rect((120, 360, 530, 400), radius=16, fill=(60, 60, 60))
    c.stroke([(200, 300), (300, 300)], width=5)


def _jacket(c: Canvas) -> None:
    c.polygon([(220, 80), (420, 80), (520, 150), (530, 420), (460, 420), (440, 220), (440, 430),
               (200, 430), (200, 220), (180, 420), (110, 420), (120, 150)])  # fmt: skip
    if c.variant == 1:  # a parka's hood
        c.ellipse((250, 40, 390, 130), fill=c.ink)
    c.stroke([(320, 90), (320, 430)], width=5)


def _laptop(c: Canvas) -> None:
    c.rect((170, 100, 470, 310), radius=14)
    c.rect((190, 120, 450, 290), radius=4, fill=(40, 52, 70))
    c.polygon([(140, 320), (500, 320), (540, 370), (100, 370)])


def _phone(c: Canvas) -> None:
    width = 110 + 15 * c.variant
    c.rect((320 - width / 2, 70, 320 + width / 2, 420), radius=28)
    c.rect((320 - width / 2 + 12, 100, 320 + width / 2 - 12, 390), radius=6, fill=(40, 52, 70))
    c.ellipse((312, 78, 328, 94), fill=(20, 20, 20), width=1)


def _headphones(c: Canvas) -> None:
    if c.variant == 0:  # earbuds
        for x in (240, 360):
            c.ellipse((x - 45, 180, x + 45, 270), fill=c.ink)
            c.rect((x - 12, 250, x + 12, 380), radius=12)
        return
    c.draw.arc(c.box((170, 90, 470, 390)), 180, 360, fill=c.line, width=34 * SUPERSAMPLE)
    c.draw.arc(c.box((176, 96, 464, 384)), 180, 360, fill=c.ink, width=22 * SUPERSAMPLE)
    for x in (180, 460):
        c.rect((x - 40, 220, x + 40, 340), radius=30)


def _sofa(c: Canvas) -> None:
    seats = 2 + c.variant
    c.rect((130, 150, 510, 290), radius=24)
    c.rect((110, 270, 530, 360), radius=18)
    for x in (95, 485):
        c.rect((x, 220, x + 60, 360), radius=22)
    for n in range(1, seats):
        x = 155 + 330 * n / seats
        c.stroke([(x, 280), (x, 350)], width=4)
    for x in (140, 490):
        c.rect((x, 360, x + 14, 395), fill=(60, 50, 40))


def _coffee(c: Canvas) -> None:
    c.polygon([(220, 110), (420, 110), (440, 420), (200, 420)])
    c.rect((215, 90, 425, 125), radius=6)
    c.rect((245, 220, 395, 320), radius=8, fill=(250, 246, 236))
    c.ellipse((295, 245, 345, 295), fill=c.ink, width=2)


def _book(c: Canvas) -> None:
    c.rect((200, 70, 440, 420), radius=6)
    c.rect((200, 70, 235, 420), radius=4, fill=c.line)
    for y in (140, 170):
        c.stroke([(270, y), (410, y)], width=7, fill=(250, 246, 236))


def _bike(c: Canvas) -> None:
    for x in (190, 450):
        c.ellipse((x - 95, 230, x + 95, 420), width=10)
    c.stroke([(190, 325), (300, 330), (420, 220), (260, 220), (190, 325)], width=9, fill=c.ink)
    c.stroke([(300, 330), (260, 190)], width=9, fill=c.ink)
    c.stroke([(420, 220), (450, 325)], width=9, fill=c.ink)
    c.stroke([(240, 185), (285, 185)], width=10)
    c.stroke([(410, 200), (440, 180)], width=8)


def _lamp(c: Canvas) -> None:
    if c.variant == 2:  # a pendant hangs from its cord
        c.stroke([(320, 0), (320, 200)], width=5)
        c.polygon([(270, 200), (370, 200), (440, 320), (200, 320)])
        return
    c.polygon([(250, 90), (390, 90), (450, 210), (190, 210)])
    c.stroke([(320, 210), (320, 380)], width=10)
    c.ellipse((240, 370, 400, 410), fill=c.ink)


def _backpack(c: Canvas) -> None:
    c.draw.arc(c.box((270, 50, 370, 140)), 180, 360, fill=c.line, width=10 * SUPERSAMPLE)
    c.rect((200, 90, 440, 420), radius=60)
    c.rect((240, 270, 400, 390), radius=24)
    c.stroke([(250, 300), (390, 300)], width=4)


# In the order of catalog.demo.CATEGORY_TEMPLATES.
DRAWINGS: list[Callable[[Canvas], None]] = [
    _shirt,
    _shoe,
    _jacket,
    _laptop,
    _phone,
    _headphones,
    _sofa,
    _coffee,
    _book,
    _bike,
    _lamp,
    _backpack,
]


def demo_picture_drawn(template: int, variant: int, color: str | None) -> bytes:
    """Return the JPEG of a product of category template `template`, its noun's `variant`, in `color`."""
    ink = COLORS[color] if color in COLORS else NOUN_COLORS[variant % len(NOUN_COLORS)]
    line = tuple(max(0, round(channel * 0.55)) for channel in ink)
    background = BACKGROUNDS[template % len(BACKGROUNDS)]
    image = Image.new("RGB", (SIZE[0] * SUPERSAMPLE, SIZE[1] * SUPERSAMPLE), background)
    DRAWINGS[template % len(DRAWINGS)](Canvas(ImageDraw.Draw(image), ink, line, variant))
    encoded = io.BytesIO()
    # Halved by the mean of each 4 pixels (a tenth of LANCZOS's time); a JPEG as a camera's, which
    # encodes in a tenth of a PNG's time.
    image.reduce(SUPERSAMPLE).save(encoded, "JPEG", quality=92)
    return encoded.getvalue()


@dataclass
class DemoPictures:
    """The demo's pictures, each drawn and stored once: `for_product` gives a product's."""

    stored: dict[tuple[int, int, str | None], StoredPicture] = field(default_factory=dict)

    def for_product(self, *, template: int, variant: int, color: str | None) -> StoredPicture:
        key = (template, variant, color)
        if key not in self.stored:
            drawn = demo_picture_drawn(template, variant, color)
            self.stored[key] = picture_store(picture_read(ContentFile(drawn, name="demo.jpg")))
        return self.stored[key]
