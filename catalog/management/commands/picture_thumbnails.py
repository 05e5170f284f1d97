"""`manage.py picture_thumbnails`: make the thumbnails of products' pictures that are missing.

Storing a picture makes its thumbnails (admin, the demo seed); this is for the pictures stored
before a width was added to THUMBNAIL_WIDTHS, or restored without their thumbnails. Run it before
the code that names the new widths serves pages. What is there already is left alone, so a second
run writes nothing.
"""

from django.core.management.base import BaseCommand, CommandError

from catalog.pictures import PictureRefused, picture_thumbnails_make
from catalog.selectors import pictures_stored


class Command(BaseCommand):
    help = "Make the missing thumbnails of products' pictures; exit 1 if a picture's file is gone or damaged."

    def handle(self, *args, **options):
        pictures = pictures_stored()
        written, failed = 0, []
        for picture in pictures:
            try:
                written += len(picture_thumbnails_make(picture))
            except (FileNotFoundError, PictureRefused) as error:
                failed.append(f"{picture.name}: {error}")
        self.stdout.write(
            f"{_count(written, 'thumbnail')} written for {_count(len(pictures), 'picture')} of the products."
        )
        if failed:
            raise CommandError(f"{_count(len(failed), 'picture')} could not be read:\n" + "\n".join(failed))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
