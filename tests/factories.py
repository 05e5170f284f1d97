"""factory_boy factories for the shop's models: small, valid objects for tests."""

from decimal import Decimal

import factory
from django.utils import timezone

from accounts.models import SHIPPED_STATUSES, Address, Customer, DeliveryOption, Order, OrderItem, User
from catalog.models import Category, CategoryFacet, Product


class CategoryFactory(factory.django.DjangoModelFactory):
    """A category; `facets=[...]` declares its facets: a key alone is a choice facet labelled from
    the key, a (key, label, unit, kind) tuple is written as given."""

    class Meta:
        model = Category
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")

    @factory.post_generation
    def facets(category, create, extracted, **kwargs):
        if not create:
            return
        declared = ["color", "size", "brand"] if extracted is None else extracted
        CategoryFacet.objects.bulk_create(
            CategoryFacet(category=category, position=n, **facet_fields(facet))
            for n, facet in enumerate(declared)
        )


def facet_fields(facet: str | tuple[str, str, str, str]) -> dict[str, str]:
    """Return a facet's fields from a key (a choice facet labelled from it) or a full tuple."""
    if isinstance(facet, str):
        return {"key": facet, "label": facet.replace("_", " ").capitalize(), "unit": "", "kind": "choice"}
    key, label, unit, kind = facet
    return {"key": key, "label": label, "unit": unit, "kind": kind}


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:06d}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    name = factory.Sequence(lambda n: f"Product {n}")
    category = factory.SubFactory(CategoryFactory)
    price = Decimal("19.99")
    stock = 10
    details = factory.LazyFunction(lambda: {"color": "red", "size": "M", "brand": "Acme"})


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def _save(user, create, extracted, **kwargs):
        if create:
            user.save()


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    customer = factory.SubFactory(CustomerFactory)
    status = "paid"
    total = Decimal("39.98")
    created = factory.LazyFunction(timezone.now)
    # An order on its way has a shipped time (a constraint says so): the earliest it can have.
    shipped = factory.LazyAttribute(lambda order: order.created if order.status in SHIPPED_STATUSES else None)


class OrderItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = 2
    unit_price = Decimal("19.99")


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    customer = factory.SubFactory(CustomerFactory)
    name = factory.LazyAttribute(lambda address: address.customer.name)
    line1 = factory.Sequence(lambda n: f"{n + 1} High Street")
    city = "Leeds"
    postcode = "LS1 4AP"
    country = "United Kingdom"
    is_default = True


class DeliveryOptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeliveryOption

    name = factory.Sequence(lambda n: f"Delivery {n}")
    price = Decimal("4.95")
    days_min = 3
    days_max = 5
