"""The customer's account: its overview, name and email, the address book, and what the order pages
let a customer do (see the shipped date, cancel an order that has not shipped). Another customer's
address or order is not found (tests/accounts/test_isolation.py)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts.models import Address, Customer, Order, OrderStatus, User
from accounts.services import MAX_ADDRESSES, address_add, address_delete, address_set_default
from catalog.models import Product
from tests.factories import (
    AddressFactory,
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # UserFactory's
ACCOUNT = reverse("accounts:account")
PROFILE = reverse("accounts:profile")
ADDRESSES = reverse("accounts:addresses")
ADDRESS_NEW = reverse("accounts:address_new")
AN_ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "line2": "",
    "city": "London",
    "postcode": "SW1Y 4JH",
    "country": "United Kingdom",
}


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- The overview -------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 20])
def test_the_account_page_runs_the_same_queries_whatever_the_customers(
    customer_client, customer, django_assert_num_queries, n
):
    CustomerFactory.create_batch(n, user=None)

    # the user (the session comes from Redis), the customer
    with django_assert_num_queries(2):
        response = customer_client.get(ACCOUNT)

    page = response.content.decode()
    assert customer.name in page
    for name in ("orders", "addresses", "profile", "password_change"):
        assert f'href="{reverse(f"accounts:{name}")}"' in page


def test_the_header_links_to_the_account(customer_client):
    page = customer_client.get(reverse("catalog:home")).content.decode()

    assert f'<a href="{ACCOUNT}">Account</a>' in page


# --- Name and email -----------------------------------------------------------------------------------


def test_a_customer_changes_their_name_without_their_password(customer_client, customer):
    response = customer_client.post(PROFILE, {"name": "Augusta Ada King", "email": customer.email})

    assert response.status_code == 303
    customer.refresh_from_db()
    assert customer.name == "Augusta Ada King"
    assert _messages(response) == ["Your details are saved."]


def test_a_new_email_asks_for_the_password(customer_client, customer):
    before = customer.email

    response = customer_client.post(PROFILE, {"name": customer.name, "email": "new@example.com"})
    wrong = customer_client.post(
        PROFILE, {"name": customer.name, "email": "new@example.com", "password": "wrong"}
    )

    for refused in (response, wrong):
        assert refused.status_code == 400
        assert "Enter your password to change your email." in refused.content.decode()
    assert Customer.objects.get(pk=customer.pk).email == before


def test_a_new_email_is_stored_normalised_on_the_customer_and_the_user(customer_client, customer):
    typed = "Ada.New@\uff25\uff38AMPLE.com"  # "EX" in fullwidth, the domain in capitals

    response = customer_client.post(PROFILE, {"name": customer.name, "email": typed, "password": PASSWORD})

    assert response.status_code == 303
    customer.refresh_from_db()
    assert customer.email == "Ada.New@example.com"
    assert User.objects.get(pk=customer.user_id).email == "Ada.New@example.com"


def test_another_customers_email_in_any_case_is_a_form_error(customer_client, customer):
    CustomerFactory(email="taken@example.com")

    response = customer_client.post(
        PROFILE, {"name": customer.name, "email": "TAKEN@example.com", "password": PASSWORD}
    )

    assert response.status_code == 400
    assert "Another account has this email." in response.content.decode()
    assert Customer.objects.get(pk=customer.pk).email != "TAKEN@example.com"


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"name": "", "email": "x@example.com"},
        {"name": "A", "email": "not an address"},
        {"name": "A" * 201},
    ],
)
def test_bad_profile_input_is_a_form_error(customer_client, customer, form):
    response = customer_client.post(PROFILE, form)

    assert response.status_code == 400
    assert Customer.objects.get(pk=customer.pk).name == customer.name


def test_a_user_without_a_customer_gets_one_from_the_profile(client):
    staff = UserFactory(email="boss@example.com", first_name="Grace", last_name="Hopper", is_staff=True)
    client.force_login(staff)

    shown = client.get(PROFILE)
    saved = client.post(PROFILE, {"name": "Grace Hopper", "email": "boss@example.com"})

    assert shown.context["form"].initial == {"name": "Grace Hopper", "email": "boss@example.com"}
    assert saved.status_code == 303
    assert Customer.objects.get(user=staff).email == "boss@example.com"


@pytest.mark.parametrize("n", [1, 20])
def test_the_profile_page_runs_the_same_queries_whatever_the_customers(
    customer_client, django_assert_num_queries, n
):
    CustomerFactory.create_batch(n, user=None)

    # the user, the customer
    with django_assert_num_queries(2):
        assert customer_client.get(PROFILE).status_code == 200


# --- The address book ---------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 19])
def test_the_address_book_runs_the_same_queries_whatever_its_size(
    customer_client, customer, django_assert_num_queries, n
):
    AddressFactory.create_batch(n, customer=customer, is_default=False)

    # the user, the addresses
    with django_assert_num_queries(2):
        response = customer_client.get(ADDRESSES)

    assert len(response.context["addresses"]) == n + 1
    assert response.context["addresses"][0].is_default


def test_an_address_is_added_and_the_first_one_is_the_default(customer_client, customer):
    customer.addresses.all().delete()

    response = customer_client.post(ADDRESS_NEW, AN_ADDRESS)

    assert response.status_code == 303
    assert response["Location"] == ADDRESSES
    address = customer.addresses.get()
    assert (address.line1, address.is_default) == ("12 St James's Square", True)


def test_an_added_address_may_become_the_default(customer_client, customer):
    before = customer.addresses.get()

    customer_client.post(ADDRESS_NEW, {**AN_ADDRESS, "make_default": "1"})

    assert customer.addresses.get(is_default=True).line1 == "12 St James's Square"
    assert not Address.objects.get(pk=before.pk).is_default


@pytest.mark.parametrize(
    "form",
    [
        {},
        {**AN_ADDRESS, "line1": "   "},
        {**AN_ADDRESS, "postcode": "x" * 21},
        {**AN_ADDRESS, "city": "Lon\x00don"},
    ],
    ids=["empty", "blank", "too-long", "nul"],
)
def test_a_bad_address_is_a_form_error(customer_client, customer, form):
    response = customer_client.post(ADDRESS_NEW, form)

    assert response.status_code == 400
    assert customer.addresses.count() == 1


def test_a_full_address_book_takes_no_more(customer_client, customer):
    AddressFactory.create_batch(MAX_ADDRESSES - 1, customer=customer, is_default=False)

    response = customer_client.post(ADDRESS_NEW, AN_ADDRESS)

    assert response.status_code == 400
    assert "Your address book is full" in response.content.decode()
    assert customer.addresses.count() == MAX_ADDRESSES


def test_an_address_is_edited(customer_client, customer):
    address = customer.addresses.get()
    url = reverse("accounts:address_edit", args=[address.pk])

    shown = customer_client.get(url)
    response = customer_client.post(url, {**AN_ADDRESS, "line2": "Flat 3"})

    assert f'value="{address.line1}"' in shown.content.decode()
    assert response.status_code == 303
    address.refresh_from_db()
    assert (address.line1, address.line2, address.is_default) == ("12 St James's Square", "Flat 3", True)


def test_an_edit_with_bad_input_changes_nothing(customer_client, customer):
    address = customer.addresses.get()

    response = customer_client.post(
        reverse("accounts:address_edit", args=[address.pk]), {**AN_ADDRESS, "city": ""}
    )

    assert response.status_code == 400
    assert Address.objects.get(pk=address.pk).city == address.city


def test_deleting_the_default_makes_the_oldest_left_the_default(customer_client, customer):
    default = customer.addresses.get()
    older, newer = AddressFactory.create_batch(2, customer=customer, is_default=False)

    response = customer_client.post(reverse("accounts:address_delete", args=[default.pk]))

    assert response.status_code == 303
    assert list(customer.addresses.values_list("pk", "is_default").order_by("pk")) == [
        (older.pk, True),
        (newer.pk, False),
    ]


def test_an_address_is_made_the_default(customer_client, customer):
    old_default = customer.addresses.get()
    other = AddressFactory(customer=customer, is_default=False)

    customer_client.post(reverse("accounts:address_default", args=[other.pk]))

    assert list(customer.addresses.filter(is_default=True)) == [other]
    assert not Address.objects.get(pk=old_default.pk).is_default


def test_the_book_keeps_one_default_through_every_change(customer):
    first = customer.addresses.get()
    second = address_add(customer=customer, fields=AN_ADDRESS)
    third = address_add(customer=customer, fields=AN_ADDRESS, make_default=True)
    address_set_default(address=second)
    address_delete(address=second)
    address_delete(address=first)

    assert list(customer.addresses.values_list("pk", "is_default")) == [(third.pk, True)]
    address_delete(address=third)
    assert not customer.addresses.exists()


@pytest.mark.parametrize("name", ["address_edit", "address_delete", "address_default"])
def test_an_address_that_does_not_exist_is_not_found(customer_client, name):
    method = customer_client.get if name == "address_edit" else customer_client.post

    assert method(reverse(f"accounts:{name}", args=[10**9])).status_code == 404


# --- Orders: the shipped date and cancelling -------------------------------------------------------


def test_the_order_history_and_page_show_when_an_order_shipped(customer_client, customer):
    shipped_at = timezone.now() - timedelta(days=1)
    order = OrderFactory(
        customer=customer,
        status=OrderStatus.SHIPPED,
        created=shipped_at - timedelta(days=2),
        shipped=shipped_at,
    )
    OrderItemFactory(order=order)

    history = customer_client.get(reverse("accounts:orders")).content.decode()
    page = customer_client.get(reverse("accounts:order", args=[order.pk])).content.decode()

    assert f"shipped {shipped_at:%-d %b %Y}" in history
    assert f"Shipped {shipped_at:%-d %b %Y}" in page


@pytest.fixture
def paid_order(customer):
    """A paid order of the customer: two lamps, taken from a stock of 5."""
    lamp = ProductFactory(name="Lamp", stock=3, price=Decimal("20.00"))
    order = OrderFactory(customer=customer, status=OrderStatus.PAID, total=Decimal("40.00"))
    OrderItemFactory(order=order, product=lamp, quantity=2, unit_price=Decimal("20.00"))
    return order


def test_an_order_that_has_not_shipped_offers_to_cancel_it(customer_client, paid_order):
    page = customer_client.get(reverse("accounts:order", args=[paid_order.pk])).content.decode()

    assert f'action="{reverse("accounts:order_cancel", args=[paid_order.pk])}"' in page
    assert "Cancel this order" in page


@pytest.mark.parametrize("status", [OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED])
def test_an_order_that_shipped_or_was_cancelled_offers_no_cancel(customer_client, customer, status):
    order = OrderFactory(customer=customer, status=status)

    page = customer_client.get(reverse("accounts:order", args=[order.pk])).content.decode()

    assert "Cancel this order" not in page


def test_cancelling_an_order_returns_its_stock(customer_client, paid_order):
    response = customer_client.post(reverse("accounts:order_cancel", args=[paid_order.pk]))

    assert response.status_code == 303
    assert response["Location"] == reverse("accounts:order", args=[paid_order.pk])
    assert _messages(response) == [f"Order #{paid_order.pk} is cancelled: nothing will be sent."]
    assert Order.objects.get(pk=paid_order.pk).status == OrderStatus.CANCELLED
    assert Product.objects.get(name="Lamp").stock == 5


def test_a_shipped_order_cannot_be_cancelled_and_says_so(customer_client, paid_order):
    Order.objects.filter(pk=paid_order.pk).update(status=OrderStatus.SHIPPED, shipped=timezone.now())

    response = customer_client.post(reverse("accounts:order_cancel", args=[paid_order.pk]))

    assert response.status_code == 303
    assert _messages(response) == [
        f"Order #{paid_order.pk} has already shipped, so it can no longer be cancelled."
    ]
    assert Order.objects.get(pk=paid_order.pk).status == OrderStatus.SHIPPED
    assert Product.objects.get(name="Lamp").stock == 3


def test_cancelling_twice_returns_the_stock_once(customer_client, paid_order):
    customer_client.post(reverse("accounts:order_cancel", args=[paid_order.pk]))
    again = customer_client.post(reverse("accounts:order_cancel", args=[paid_order.pk]))

    assert _messages(again)[-1] == f"Order #{paid_order.pk} was already cancelled."
    assert Product.objects.get(name="Lamp").stock == 5


def test_an_order_that_does_not_exist_cannot_be_cancelled(customer_client):
    assert customer_client.post(reverse("accounts:order_cancel", args=[10**9])).status_code == 404


@pytest.mark.parametrize("n", [1, 20])
def test_cancelling_runs_the_same_queries_whatever_the_lines(
    customer_client, customer, django_assert_num_queries, n
):
    order = OrderFactory(customer=customer, status=OrderStatus.PAID)
    category = CategoryFactory()
    for _ in range(n):
        OrderItemFactory(order=order, product=ProductFactory(category=category))

    # the user; the order's owner; the cancellation (savepoint, lock the order, cancel it, its
    # lines summed by product, lock the products, return the stock, release); the primary's WAL
    # position for read-your-writes
    with django_assert_num_queries(10):
        customer_client.post(reverse("accounts:order_cancel", args=[order.pk]))

    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
