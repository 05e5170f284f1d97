"""Products' pictures: stored once by content, thumbnails made once (never by a page), shown with
srcset and their size, a placeholder without one; bad uploads are form errors, never a 500."""

import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from PIL import Image

from catalog.fragments import product_cards, product_picture
from catalog.models import Product
from catalog.pictures import (
    MAX_BYTES,
    PictureRefused,
    StoredPicture,
    picture_read,
    picture_store,
    picture_widths,
    thumbnail_name,
)
from tests.catalog.test_admin import _product_form_data
from tests.factories import CategoryFactory, ProductFactory
from tests.pictures import picture_bytes, png_claiming, upload

pytestmark = pytest.mark.django_db

SRCSET_ENTRY = re.compile(r"(/media/products/[0-9a-f]{2}/[0-9a-f]{32}-(\d+)w\.webp) (\d+)w")


def _files(root: Path) -> dict[str, float]:
    """Return every file under `root` with its modification time."""
    files = (path for path in root.rglob("*") if path.is_file())
    return {str(path.relative_to(root)): path.stat().st_mtime_ns for path in files}


def _stored(content: bytes, name: str = "shirt.jpg") -> StoredPicture:
    return picture_store(picture_read(upload(content, name)))


def _with_picture(product: Product, content: bytes | None = None) -> Product:
    stored = _stored(content or picture_bytes())
    product.picture, product.picture_width, product.picture_height = stored.name, stored.width, stored.height
    product.save()
    return product


def _srcset(html: str, css_class: str) -> list[tuple[str, int]]:
    """Return (url, width) of each srcset entry of the <img class="... css_class ..."> in `html`."""
    img = re.search(rf'<img class="[^"]*\b{css_class}\b[^>]*>', html)
    assert img, f"no <img> of class {css_class}"
    srcset = re.search(r'srcset="([^"]*)"', img[0])[1]
    entries = [SRCSET_ENTRY.fullmatch(entry.strip()) for entry in srcset.split(",")]
    assert all(entries), srcset
    assert all(int(entry[2]) == int(entry[3]) for entry in entries)  # a thumbnail's name says its width
    return [(entry[1], int(entry[3])) for entry in entries]


# --- Storing a picture ---------------------------------------------------------------------------


def test_a_picture_is_stored_by_its_content_with_a_webp_thumbnail_per_width(media_root):
    stored = _stored(picture_bytes(800, 600))

    assert re.fullmatch(r"products/[0-9a-f]{2}/[0-9a-f]{32}\.jpg", stored.name)
    assert (stored.width, stored.height) == (800, 600)
    assert (media_root / stored.name).read_bytes() == picture_bytes(800, 600)  # kept as it came
    for width, height in [(160, 120), (320, 240), (640, 480), (800, 600)]:
        with Image.open(media_root / thumbnail_name(stored.name, width)) as thumbnail:
            assert (thumbnail.format, thumbnail.size) == ("WEBP", (width, height))


def test_storing_a_picture_again_writes_nothing(media_root):
    first = _stored(picture_bytes())
    written = _files(media_root)

    again = _stored(picture_bytes(), name="same-picture-another-name.jpg")

    assert again == first
    assert _files(media_root) == written  # no file written again, none added


def test_another_picture_gets_other_names_so_no_cache_ever_shows_the_old_one(media_root):
    first, second = _stored(picture_bytes(color="teal")), _stored(picture_bytes(color="orange"))

    assert first.name != second.name
    assert thumbnail_name(first.name, 320) != thumbnail_name(second.name, 320)


def test_no_thumbnail_is_wider_than_its_picture(media_root):
    assert picture_widths(100) == [100]
    assert picture_widths(500) == [160, 320, 500]
    assert picture_widths(4000) == [160, 320, 640, 960]
    stored = _stored(picture_bytes(100, 50, kind="PNG"), name="tiny.png")

    assert stored.name.endswith(".png")
    thumbnails = [path.relative_to(media_root) for path in media_root.rglob("*.webp")]
    assert thumbnails == [Path(thumbnail_name(stored.name, 100))]


def test_a_photo_turned_by_its_exif_orientation_is_measured_and_thumbnailed_upright(media_root):
    image = Image.new("RGB", (800, 400), "white")
    exif = image.getexif()
    exif[0x0112] = 6  # stored lying on its side: shown turned a quarter
    encoded = io.BytesIO()
    image.save(encoded, "JPEG", exif=exif)

    stored = _stored(encoded.getvalue())

    assert (stored.width, stored.height) == (400, 800)
    with Image.open(media_root / thumbnail_name(stored.name, 320)) as thumbnail:
        assert thumbnail.size == (320, 640)


def test_a_picture_with_transparency_keeps_it(media_root):
    image = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    encoded = io.BytesIO()
    image.save(encoded, "PNG")

    stored = _stored(encoded.getvalue(), name="cut-out.png")

    with Image.open(media_root / thumbnail_name(stored.name, 160)) as thumbnail:
        assert thumbnail.mode == "RGBA"


@pytest.mark.parametrize(
    ("content", "name", "code"),
    [
        (b"Just some text, not a picture.", "notes.jpg", "not_a_picture"),
        (picture_bytes()[:2000], "cut-short.jpg", "not_a_picture"),
        (picture_bytes(kind="BMP"), "old.bmp", "format"),
        (png_claiming(8_000, 8_000), "big.png", "too_large"),
        (png_claiming(100_000, 100_000), "bomb.png", "too_large"),  # Pillow's bomb guard speaks first
        (png_claiming(20_000, 100), "long.png", "too_large"),
    ],
)
def test_what_is_not_a_picture_the_shop_takes_is_refused_and_nothing_stored(media_root, content, name, code):
    with pytest.raises(PictureRefused) as refused:
        picture_read(upload(content, name))

    assert refused.value.code == code
    assert _files(media_root) == {}


def test_a_file_larger_than_the_limit_is_refused_before_it_is_read():
    with pytest.raises(PictureRefused, match="larger than 10 MB"):
        picture_read(upload(b"\0" * (MAX_BYTES + 1)))


def test_the_database_refuses_a_picture_without_its_size():
    product = ProductFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.filter(pk=product.pk).update(picture="products/ab/ab.jpg")


# --- Uploading in admin --------------------------------------------------------------------------


def test_staff_upload_a_picture_in_admin_and_its_thumbnails_are_made(admin_client, media_root):
    product = ProductFactory(name="Teal lamp")
    content = picture_bytes(1200, 900)

    response = admin_client.post(
        reverse("admin:catalog_product_change", args=[product.pk]),
        _product_form_data(product, picture=upload(content), picture_alt="A teal lamp, lit"),
    )

    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.picture_width, product.picture_height) == (1200, 900)
    assert product.picture_alt == "A teal lamp, lit"
    assert (media_root / product.picture.name).read_bytes() == content
    for width in (160, 320, 640, 960):
        assert (media_root / thumbnail_name(product.picture.name, width)).is_file()
    page = admin_client.get(reverse("admin:catalog_product_change", args=[product.pk])).content.decode()
    assert 'enctype="multipart/form-data"' in page
    assert thumbnail_name(product.picture.name, 320) in page  # the picture as the shop shows it


def test_staff_clear_a_picture_and_the_placeholder_shows_again(admin_client, media_root):
    product = _with_picture(ProductFactory())

    response = admin_client.post(
        reverse("admin:catalog_product_change", args=[product.pk]),
        _product_form_data(product, **{"picture-clear": "on"}),
    )

    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.picture.name, product.picture_width, product.picture_height) == ("", None, None)
    assert "data:image/svg+xml," in product_picture(product, shown="page")


@pytest.mark.parametrize(
    ("content", "name", "error"),
    [
        (b"%PDF-1.4 not a picture", "lamp.jpg", "Upload a valid image"),
        (picture_bytes()[:3000], "cut-short.jpg", "damaged"),
        (png_claiming(8_000, 8_000), "big.png", "8,000 x 8,000 pixels: at most 40 megapixels"),
        # Pillow refuses it before the shop's own check does: a form error all the same.
        (png_claiming(100_000, 100_000), "bomb.png", "Upload a valid image"),
        (picture_bytes(kind="TIFF"), "scan.tif", "Upload a JPEG, PNG, WebP or GIF picture."),
    ],
)
def test_a_bad_upload_is_a_form_error_and_changes_nothing(admin_client, media_root, content, name, error):
    product = ProductFactory(name="Lamp")

    response = admin_client.post(
        reverse("admin:catalog_product_change", args=[product.pk]),
        _product_form_data(product, picture=upload(content, name), name="Renamed lamp"),
    )

    assert response.status_code == 200
    assert error in " ".join(response.context["adminform"].form.errors["picture"])
    product.refresh_from_db()
    assert (product.name, product.picture.name) == ("Lamp", "")
    assert _files(media_root) == {}


# --- Shown on the pages --------------------------------------------------------------------------


def test_a_card_and_the_product_page_show_the_thumbnails_with_the_pictures_size(client, media_root):
    shirts = CategoryFactory(slug="shirts")
    product = _with_picture(ProductFactory(category=shirts, name="Oxford shirt"), picture_bytes(800, 600))

    category_page = client.get(reverse("catalog:category", args=["shirts"])).content.decode()
    product_page = client.get(product.get_absolute_url()).content.decode()

    widths = [(thumbnail_name(product.picture.name, width), width) for width in (160, 320, 640, 800)]
    expected = [(f"/media/{name}", width) for name, width in widths]
    assert _srcset(category_page, "picture-card") == expected
    assert _srcset(product_page, "picture-page") == expected
    for page, css_class in ((category_page, "picture-card"), (product_page, "picture-page")):
        img = re.search(rf'<img class="picture {css_class}"[^>]*>', page)[0]
        assert 'width="800" height="600"' in img
        assert 'alt="Oxford shirt"' in img  # no alt text of its own: the product's name
        assert 'sizes="' in img
    for url, _ in expected:  # every file named is there to be served
        assert client.get(url).status_code == 200


def test_a_cached_page_shows_a_new_picture_as_soon_as_staff_save_it(
    client, admin_client, media_root, settings, django_capture_on_commit_callbacks
):
    settings.PAGE_CACHE_SECONDS = 30  # product pages served whole from Redis, as in production
    product = _with_picture(ProductFactory(name="Lamp"), picture_bytes(color="teal"))
    old = thumbnail_name(product.picture.name, 320)
    assert old in client.get(product.get_absolute_url()).content.decode()
    assert client.get(product.get_absolute_url()).context is None  # from the page cache

    with django_capture_on_commit_callbacks(execute=True):  # the namespace bump, once committed
        admin_client.post(
            reverse("admin:catalog_product_change", args=[product.pk]),
            _product_form_data(product, picture=upload(picture_bytes(color="orange"))),
        )
    page = client.get(product.get_absolute_url()).content.decode()

    product.refresh_from_db()
    assert thumbnail_name(product.picture.name, 320) in page
    assert old not in page


def test_a_picture_shows_its_own_alt_text_escaped(media_root):
    product = _with_picture(ProductFactory(name="Lamp"))
    product.picture_alt = 'A brass lamp <b>"lit"</b>'

    img = product_picture(product, shown="card")

    assert 'alt="A brass lamp &lt;b&gt;&quot;lit&quot;&lt;/b&gt;"' in img


def test_a_product_without_a_picture_gets_a_placeholder_of_its_initial(client):
    shirts = CategoryFactory(slug="shirts")
    product = ProductFactory(category=shirts, name="oxford shirt")

    card = product_cards([{"slug": "p", "name": "oxford shirt", "price": Decimal(1), "picture": ""}])
    page = client.get(product.get_absolute_url()).content.decode()

    for html in (card, page):
        img = re.search(r'<img class="picture [^"]*placeholder"[^>]*>', html)[0]
        assert 'src="data:image/svg+xml,' in img  # a data: image, which the policy allows
        assert 'width="400" height="300"' in img
        assert "%3EO%3C/text%3E" in img  # its initial, upper case
    assert "srcset" not in card


def test_the_cart_shows_each_lines_picture(client, media_root):
    product = _with_picture(ProductFactory(name="Lamp"), picture_bytes(640, 480))
    client.post(reverse("accounts:cart_add"), {"product_id": product.pk, "quantity": 1})

    page = client.get(reverse("accounts:cart")).content.decode()

    assert [width for _, width in _srcset(page, "picture-line")] == [160, 320, 640]


def test_pages_make_no_thumbnail_and_write_no_file(client, media_root, monkeypatch):
    shirts = CategoryFactory(slug="shirts")
    product = _with_picture(ProductFactory(category=shirts))
    ProductFactory(category=shirts)  # a related product, with its placeholder
    written = _files(media_root)

    def no_write(*args, **kwargs):
        raise AssertionError("a page wrote a file")

    monkeypatch.setattr(FileSystemStorage, "save", no_write)
    home, category = reverse("catalog:home"), reverse("catalog:category", args=["shirts"])
    pages = [home, category, product.get_absolute_url()]
    for url in pages + pages:
        assert client.get(url).status_code == 200

    assert _files(media_root) == written


# --- manage.py picture_thumbnails ---------------------------------------------------------------


def test_the_command_makes_missing_thumbnails_once(media_root):
    product = _with_picture(ProductFactory(), picture_bytes(1000, 500))
    for width in (320, 960):
        (media_root / thumbnail_name(product.picture.name, width)).unlink()
    first, second = io.StringIO(), io.StringIO()

    call_command("picture_thumbnails", stdout=first)
    made = _files(media_root)
    call_command("picture_thumbnails", stdout=second)

    assert "2 thumbnails written for 1 picture" in first.getvalue()
    assert (media_root / thumbnail_name(product.picture.name, 960)).is_file()
    assert "0 thumbnails written" in second.getvalue()
    assert _files(media_root) == made


# --- What pictures cost the pages ----------------------------------------------------------------


@pytest.mark.parametrize("n", [5, 60])
def test_pictures_add_no_query_to_the_catalog_pages(client, django_assert_num_queries, n):
    shirts = CategoryFactory(slug="shirts")
    for i in range(n):
        ProductFactory(category=shirts, price=Decimal(10 + i))
    # Their pictures are columns of their rows (no file is read to show them).
    Product.objects.update(picture="products/ab/ab12.jpg", picture_width=800, picture_height=600)
    product = Product.objects.order_by("pk").first()

    # category (then cached), page count, the page of products, facet counts
    with django_assert_num_queries(4):
        category = client.get(reverse("catalog:category", args=["shirts"])).content.decode()
    # the product with its category, related products
    with django_assert_num_queries(2):
        page = client.get(product.get_absolute_url()).content.decode()
    # categories with counts, newest products
    with django_assert_num_queries(2):
        home = client.get(reverse("catalog:home")).content.decode()

    assert category.count("products/ab/ab12-320w.webp 320w") == min(n, 24)
    assert page.count("products/ab/ab12-320w.webp 320w") == 1 + min(n - 1, 4)  # its own, and related
    assert home.count("products/ab/ab12-320w.webp 320w") == min(n, 8)
