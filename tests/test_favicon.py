"""The shop's icon: linked from every storefront page, and /favicon.ico leads to it."""

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_pages_link_an_icon_and_favicon_ico_leads_to_it(client):
    icon = client.get("/favicon.ico")
    home = client.get("/")
    target = icon["Location"]

    assert icon.status_code == 302
    assert "max-age=86400" in icon["Cache-Control"]
    assert f'<link rel="icon" href="{target}" type="image/svg+xml">' in home.content.decode()
    assert finders.find(target.removeprefix(settings.STATIC_URL)) is not None
