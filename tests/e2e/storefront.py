"""The shop the storefront's browser tests walk: shirts with long names and pictures, a customer
with an order."""

from decimal import Decimal

from catalog.pictures import picture_read, picture_store
from tests.conftest import wait_for_replicas
from tests.factories import (
    AddressFactory,
    CategoryFactory,
    CustomerFactory,
    DeliveryOptionFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
    UserFactory,
)
from tests.pictures import picture_bytes, upload

LONG_NAME = "Northwind Extra-long organic cotton Oxford shirt with button-down collar, slim fit, in blue"


def storefront_shop() -> dict:
    """Shirts with long names, most with a picture; a customer with a placed order of four lines."""
    shirts = CategoryFactory(name="Shirts", slug="shirts", facets=["color", "size", "brand", "material"])
    colors = ["blue", "white", "red", "green", "navy", "pink"]
    names = [LONG_NAME] + [f"Fjord Flannel shirt, brushed, in {colors[n % 6]} {n}" for n in range(1, 14)]
    products = [
        ProductFactory(
            category=shirts,
            name=names[n],
            price=Decimal(20 + 7 * n),
            stock=n % 5,
            details={"color": colors[n % 6], "size": "M", "brand": "Fjord", "material": "cotton"},
        )
        for n in range(14)
    ]
    for n, product in enumerate(products[:-1]):  # the last one without: its placeholder
        stored = picture_store(picture_read(upload(picture_bytes(800, 600, color=colors[n % 6]))))
        product.picture, product.picture_width, product.picture_height = stored.name, 800, 600
        product.save()
    user = UserFactory(username="ada", email="ada@example.com", first_name="Ada")
    customer = CustomerFactory(user=user, name="Ada Lovelace", email=user.email)
    AddressFactory(customer=customer, is_default=True)
    DeliveryOptionFactory(name="Standard delivery, three to five working days")
    order = OrderFactory(customer=customer, status="paid", total=Decimal("123456.78"))
    for product in products[:4]:
        OrderItemFactory(order=order, product=product, quantity=12, unit_price=Decimal("30864.19"))
    wait_for_replicas()
    return {"long": products[0], "plain": products[-1], "in_cart": products[:3], "order": order}
