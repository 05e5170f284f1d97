"""Every rule the data must obey is enforced by the database, not only by Python."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.models import Customer, Order, OrderItem
from catalog.models import Category, Product
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, OrderItemFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _violates(constraint: str, update) -> None:
    """Assert that the write raises an IntegrityError naming `constraint`."""
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        update()


def test_product_constraints():
    product = ProductFactory()
    products = Product.objects.filter(pk=product.pk)
    _violates("product_stock_not_negative", lambda: products.update(stock=-1))
    _violates("product_price_not_negative", lambda: products.update(price=Decimal("-0.01")))
    _violates("product_sku_has_no_spaces", lambda: products.update(sku="has space"))
    _violates("product_name_not_empty", lambda: products.update(name=""))
    _violates("product_details_is_object", lambda: products.update(details=["red"]))
    _violates("product_details_is_object", lambda: products.update(details="red"))
    _violates("product_sku_unique", lambda: ProductFactory(sku=product.sku))
    _violates("product_slug_unique", lambda: ProductFactory(slug=product.slug))


def test_category_constraints():
    category = CategoryFactory()
    _violates(
        "category_slug_is_lowercase", lambda: Category.objects.filter(pk=category.pk).update(slug="Has Caps")
    )
    _violates("slug", lambda: CategoryFactory(slug=category.slug))


def test_a_category_with_products_cannot_be_deleted():
    product = ProductFactory()
    with pytest.raises(Exception, match="protected"), transaction.atomic():
        product.category.delete()


def test_customer_constraints():
    customer = CustomerFactory(email="ada@example.com")
    customers = Customer.objects.filter(pk=customer.pk)
    _violates("customer_email_unique_ci", lambda: CustomerFactory(email="ADA@example.com"))
    _violates("customer_level_valid", lambda: customers.update(level="diamond"))
    _violates("customer_email_has_at", lambda: customers.update(email="nobody"))
    _violates("customer_name_not_empty", lambda: customers.update(name=""))


def test_order_constraints():
    order = OrderFactory(status="paid")
    orders = Order.objects.filter(pk=order.pk)
    _violates("order_status_valid", lambda: orders.update(status="lost"))
    _violates("order_total_not_negative", lambda: orders.update(total=Decimal("-1")))
    _violates("order_shipped_only_when_shipped", lambda: orders.update(shipped=order.created))


def test_order_item_constraints():
    item = OrderItemFactory()
    items = OrderItem.objects.filter(pk=item.pk)
    _violates("orderitem_quantity_positive", lambda: items.update(quantity=0))
    _violates("orderitem_unit_price_not_negative", lambda: items.update(unit_price=Decimal("-1")))
    _violates(
        "orderitem_one_line_per_product", lambda: OrderItemFactory(order=item.order, product=item.product)
    )


def test_a_product_that_was_sold_cannot_be_deleted():
    item = OrderItemFactory()
    with pytest.raises(Exception, match="protected"), transaction.atomic():
        item.product.delete()


def test_deleting_an_order_deletes_its_items():
    item = OrderItemFactory()
    item.order.delete()
    assert not OrderItem.objects.filter(pk=item.pk).exists()
