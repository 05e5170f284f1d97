"""What bench/web.py browses, picked from the benchmark database, printed as JSON.

    DJANGO_SETTINGS_MODULE=... DATABASE_URL=<bench> .venv/bin/python bench/shop_data.py VISITORS

Categories with a facet to filter by, 100 products picked at random (the popular ones), the
best-stocked products (for checkouts), and sessions as login() leaves them: a staff member's,
and VISITORS customers' twice (one browser browsing, one checking out). They are made here rather
than by logging in over HTTP: a login would only time the password hasher (PBKDF2, by design).
The customers who check out get an address, and the shop delivery options, if they have none (a
database seeded before checkout asked for them).
"""

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django

django.setup()

from django.contrib.sessions.backends.cached_db import SessionStore  # noqa: E402

from accounts.demo import delivery_options_seed  # noqa: E402
from accounts.models import Address, Customer, User  # noqa: E402
from accounts.services import address_add  # noqa: E402
from catalog.models import Category, Product  # noqa: E402


def session_of(user: User | None) -> str:
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk) if user else ""
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash() if user else ""
    session.save()
    return session.session_key


def main(visitors: int) -> None:
    first_facets: dict[str, str] = {}
    choices = Category.objects.filter(facets__kind="choice").order_by("id", "facets__position", "facets__id")
    for slug, key in choices.values_list("slug", "facets__key"):
        first_facets.setdefault(slug, key)
    categories = [
        (slug, first_facets.get(slug, ""))
        for slug in Category.objects.order_by("id").values_list("slug", flat=True)
    ]
    on_sale = Product.objects.filter(is_active=True, stock__gt=0)
    ids = sorted(on_sale.values_list("id", flat=True))
    random.seed(15)  # the same products every run
    popular = list(on_sale.filter(id__in=random.sample(ids, min(100, len(ids)))).values("id", "slug"))
    stocked = list(on_sale.order_by("-stock", "id").values("id", "slug")[:20])
    first = (
        on_sale.filter(category__slug=categories[0][0]).order_by("id").values_list("slug", flat=True).first()
    )
    staff = User.objects.filter(is_superuser=True).order_by("id").first()
    customers = Customer.objects.select_related("user").filter(is_active=True, user__is_active=True)
    customers = list(customers.order_by("id")[:visitors])
    users = [customer.user for customer in customers]
    delivery_options_seed()
    for customer in customers:
        if not Address.objects.filter(customer=customer).exists():
            address = {"name": customer.name, "line1": "1 Bench Road", "line2": "", "city": "Leeds"}
            address_add(
                customer=customer, fields={**address, "postcode": "LS1 4AP", "country": "United Kingdom"}
            )
    print(
        json.dumps(
            {
                "categories": categories,
                "popular": popular,
                "stocked": stocked,
                "first_product": first,
                "staff_session": session_of(staff),
                "signed_in": [session_of(user) for user in users],
                "checkouts": [session_of(user) for user in users],
            }
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
