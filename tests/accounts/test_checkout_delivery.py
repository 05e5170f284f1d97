"""Checkout asks where to send the order and how: an address of the book (the default first) or a
new one, kept in the book, and a delivery option at its price. Both are part of what the page
confirms: the order keeps a copy of the address and the delivery's name and price in its total,
and a choice the page did not offer, or that changed since, is never charged."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core import signing
from django.urls import reverse

from accounts.checkout import SALT, Confirmation
from accounts.models import Address, DeliveryOption, Order
from accounts.services import MAX_ADDRESSES, address_delete, address_update
from catalog.models import Product
from tests.accounts.helpers import checkout_form, form_of, put_in_cart
from tests.factories import AddressFactory, CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

CHECKOUT = reverse("accounts:checkout")
NEW_ADDRESS = {
    "new-name": "Grace Hopper",
    "new-line1": "1 Navy Yard",
    "new-line2": "Building 4",
    "new-city": "Arlington",
    "new-postcode": "22202",
    "new-country": "United States",
}


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def mug(db):
    return ProductFactory(name="Mug", price=Decimal("8.00"), stock=10)


@pytest.fixture
def shopper(customer_client, mug, delivery_options):
    """The customer's client with two mugs ($16.00) in the cart."""
    put_in_cart(customer_client, {mug.pk: 2})
    return customer_client


# --- The page ---------------------------------------------------------------------------------------


def test_the_page_preselects_the_default_address_and_the_first_delivery(shopper, customer, delivery_options):
    standard, express = delivery_options
    other = AddressFactory(customer=customer, is_default=False, line1="9 Side Street")
    default = customer.addresses.get(is_default=True)

    response = shopper.get(CHECKOUT)

    assert response.context["selected"] == {"address": str(default.pk), "delivery": str(standard.pk)}
    assert [address.pk for address in response.context["addresses"]] == [default.pk, other.pk]
    page = response.content.decode()
    assert f'name="address" value="{default.pk}" checked' in page
    assert f'name="delivery" value="{standard.pk}" checked' in page
    # each option with its price and the order's total with it
    assert "Standard delivery</strong>, 3\u20135 working days" in page
    assert "$4.95" in page
    assert "$20.95" in page  # $16.00 + $4.95
    assert "Express delivery</strong>, 1\u20132 working days" in page
    assert "$28.50" in page  # $16.00 + $12.50
    shown = Confirmation.from_signed(response.context["confirmation"])
    assert set(shown.addresses) == {default.pk, other.pk}
    assert {pk: (d.name, d.price) for pk, d in shown.deliveries.items()} == {
        standard.pk: ("Standard delivery", Decimal("4.95")),
        express.pk: ("Express delivery", Decimal("12.50")),
    }


def test_a_customer_without_addresses_is_asked_for_one_on_the_page(shopper, customer):
    customer.addresses.all().delete()

    response = shopper.get(CHECKOUT)

    page = response.content.decode()
    assert response.context["selected"]["address"] == "new"
    assert '<input type="hidden" name="address" value="new">' in page
    for field in ("name", "line1", "line2", "city", "postcode", "country"):
        assert f'name="new-{field}"' in page


def test_withdrawn_options_are_not_offered_and_without_any_nothing_can_be_ordered(shopper, delivery_options):
    DeliveryOption.objects.filter(pk=delivery_options[1].pk).update(is_active=False)
    assert [option.pk for option, _ in shopper.get(CHECKOUT).context["offers"]] == [delivery_options[0].pk]

    DeliveryOption.objects.update(is_active=False)
    response = shopper.get(CHECKOUT)

    assert response.context["offers"] == []
    assert "no delivery option is offered" in response.content.decode()
    assert b"Place order" not in response.content


# --- Placing the order --------------------------------------------------------------------------------


def test_the_order_goes_to_the_address_chosen_by_the_delivery_chosen(shopper, customer, delivery_options):
    express = delivery_options[1]
    other = AddressFactory(
        customer=customer, is_default=False, name="Ada at work", line1="5 Works Road", city="York"
    )

    response = shopper.post(
        CHECKOUT, {**checkout_form(shopper), "address": str(other.pk), "delivery": str(express.pk)}
    )

    order = Order.objects.get()
    assert response.status_code == 303
    assert (order.delivery_name, order.delivery_price) == ("Express delivery", Decimal("12.50"))
    assert order.total == Decimal("28.50")
    assert order.ship_to == ["Ada at work", "5 Works Road", "LS1 4AP York", "United Kingdom"]


def test_a_new_address_is_kept_in_the_book_and_copied_to_the_order(shopper, customer):
    response = shopper.post(CHECKOUT, {**checkout_form(shopper), "address": "new", **NEW_ADDRESS})

    assert response.status_code == 303
    kept = customer.addresses.get(line1="1 Navy Yard")
    assert not kept.is_default  # the book had a default already
    order = Order.objects.get()
    assert (
        order.ship_to
        == kept.lines
        == [
            "Grace Hopper",
            "1 Navy Yard",
            "Building 4",
            "22202 Arlington",
            "United States",
        ]
    )


def test_the_first_address_typed_at_checkout_becomes_the_default(shopper, customer):
    customer.addresses.all().delete()

    shopper.post(CHECKOUT, {**checkout_form(shopper), **NEW_ADDRESS})

    assert customer.addresses.get().is_default
    assert Order.objects.get().ship_name == "Grace Hopper"


def test_a_new_address_with_missing_fields_is_a_form_error_and_nothing_is_written(shopper, customer, mug):
    incomplete = {**NEW_ADDRESS, "new-line1": "   ", "new-postcode": ""}

    response = shopper.post(CHECKOUT, {**checkout_form(shopper), "address": "new", **incomplete})

    assert response.status_code == 400
    page = response.content.decode()
    assert "Please complete the new address." in page
    assert page.count("This field is required.") == 2
    assert 'value="Grace Hopper"' in page  # what was typed is kept
    assert customer.addresses.count() == 1
    assert not Order.objects.exists()
    assert Product.objects.get(pk=mug.pk).stock == 10


def test_the_new_address_fields_are_ignored_when_a_kept_address_is_chosen(shopper, customer):
    response = shopper.post(CHECKOUT, {**checkout_form(shopper), "new-line1": "ignored"})

    assert response.status_code == 303
    assert customer.addresses.count() == 1


def test_a_full_address_book_takes_no_new_address(shopper, customer):
    AddressFactory.create_batch(MAX_ADDRESSES - 1, customer=customer, is_default=False)

    page = shopper.get(CHECKOUT)
    response = shopper.post(CHECKOUT, {**form_of(page), "address": "new", **NEW_ADDRESS})

    assert 'value="new"' not in page.content.decode()
    assert response.status_code == 400
    assert "Your address book is full" in response.content.decode()
    assert customer.addresses.count() == MAX_ADDRESSES
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("address", ""), ("address", "abc"), ("address", "²"), ("delivery", ""), ("delivery", "x")],
)
def test_a_missing_or_malformed_choice_is_a_form_error(shopper, field, value):
    response = shopper.post(CHECKOUT, {**checkout_form(shopper), field: value})

    assert response.status_code == 400
    assert not Order.objects.exists()


def test_two_choices_of_one_kind_are_refused(shopper, delivery_options):
    form = checkout_form(shopper)

    response = shopper.post(CHECKOUT, {**form, "delivery": [str(option.pk) for option in delivery_options]})

    assert response.status_code == 400
    assert "Choose one only." in response.content.decode()
    assert not Order.objects.exists()


# --- Never charged: a choice the page did not offer, or one that changed -------------------------


def test_another_customers_address_is_refused(shopper):
    theirs = AddressFactory(line1="1 Their Street")

    response = shopper.post(CHECKOUT, {**checkout_form(shopper), "address": str(theirs.pk)})

    assert response.status_code == 400
    assert "Choose one of the addresses shown." in response.content.decode()
    assert not Order.objects.exists()


def test_a_delivery_option_the_page_did_not_offer_is_refused(shopper, delivery_options, mug):
    hidden = DeliveryOption.objects.create(name="Free", price=0, days_min=9, days_max=20, is_active=False)

    response = shopper.post(CHECKOUT, {**checkout_form(shopper), "delivery": str(hidden.pk)})

    assert response.status_code == 400
    assert "Choose one of the delivery options shown." in response.content.decode()
    assert not Order.objects.exists()
    assert Product.objects.get(pk=mug.pk).stock == 10


def test_a_tampered_delivery_price_is_refused_and_never_charged(shopper, delivery_options):
    form = checkout_form(shopper)
    payload = signing.loads(form["confirmation"], salt=SALT)
    payload["deliveries"] = [[pk, name, "0.00"] for pk, name, _ in payload["deliveries"]]
    tampered = signing.dumps(payload, salt="not the shop's", compress=True)

    response = shopper.post(CHECKOUT, {**form, "confirmation": tampered})

    assert response.status_code == 400
    assert not Order.objects.exists()


def test_posted_prices_and_totals_are_ignored(shopper):
    form = checkout_form(shopper)

    shopper.post(CHECKOUT, {**form, "delivery_price": "0.00", "total": "0.01", "price": "0"})

    assert Order.objects.get().total == Decimal("20.95")


@pytest.mark.parametrize(("now", "went"), [("6.50", "up"), ("2.00", "down")])
def test_a_delivery_price_changed_since_the_page_was_shown_places_nothing_and_shows_it(
    shopper, customer, delivery_options, mug, now, went
):
    standard = delivery_options[0]
    form = checkout_form(shopper)
    DeliveryOption.objects.filter(pk=standard.pk).update(price=Decimal(now))

    response = shopper.post(CHECKOUT, form)

    assert response.status_code == 409
    assert f"The price of Standard delivery went {went} from $4.95 to ${now}." in _messages(response)
    assert not Order.objects.exists()
    assert Product.objects.get(pk=mug.pk).stock == 10
    customer.refresh_from_db()
    assert customer.last_purchase is None
    renewed = Confirmation.from_signed(response.context["confirmation"])
    assert renewed.deliveries[standard.pk].price == Decimal(now)
    # Confirming the new figures places the order at them.
    placed = shopper.post(CHECKOUT, form_of(response))
    assert placed.status_code == 303
    assert Order.objects.get().total == Decimal("16.00") + Decimal(now)


def test_a_delivery_option_withdrawn_since_the_page_was_shown_places_nothing(shopper, delivery_options):
    express = delivery_options[1]
    form = {**checkout_form(shopper), "delivery": str(express.pk)}
    DeliveryOption.objects.filter(pk=express.pk).update(is_active=False)

    response = shopper.post(CHECKOUT, form)

    assert response.status_code == 409
    assert "Express delivery is no longer offered: please choose another delivery." in _messages(response)
    assert not Order.objects.exists()
    assert response.context["selected"]["delivery"] == str(express.pk)  # chosen, but no longer there
    assert f'value="{express.pk}"' not in response.content.decode()


def test_an_address_changed_in_another_tab_places_nothing_and_shows_it(shopper, customer):
    address = customer.addresses.get()
    form = checkout_form(shopper)
    fields = {
        field: getattr(address, field) for field in ("name", "line1", "line2", "city", "postcode", "country")
    }
    address_update(address=address, fields={**fields, "line1": "7 Moved Street"})

    response = shopper.post(CHECKOUT, form)

    assert response.status_code == 409
    assert any(
        "The address you chose was changed meanwhile" in m and "7 Moved Street" in m
        for m in _messages(response)
    )
    assert not Order.objects.exists()
    placed = shopper.post(CHECKOUT, form_of(response))
    assert placed.status_code == 303
    assert Order.objects.get().ship_line1 == "7 Moved Street"


def test_an_address_deleted_in_another_tab_places_nothing(shopper, customer):
    spare = AddressFactory(customer=customer, is_default=False)
    form = {**checkout_form(shopper), "address": str(spare.pk)}
    address_delete(address=spare)

    response = shopper.post(CHECKOUT, form)

    assert response.status_code == 409
    assert "The address you chose is no longer in your address book: please choose one." in _messages(
        response
    )
    assert not Order.objects.exists()


def test_a_new_address_is_kept_when_the_figures_changed_and_the_page_chooses_it(shopper, customer, mug):
    form = {**checkout_form(shopper), "address": "new", **NEW_ADDRESS}
    Product.objects.filter(pk=mug.pk).update(price=Decimal("9.00"))

    response = shopper.post(CHECKOUT, form)

    assert response.status_code == 409
    kept = customer.addresses.get(line1="1 Navy Yard")
    assert response.context["selected"]["address"] == str(kept.pk)
    placed = shopper.post(CHECKOUT, form_of(response))
    assert placed.status_code == 303
    assert customer.addresses.count() == 2  # kept once
    assert Order.objects.get().ship_line1 == "1 Navy Yard"


# --- The copy: a placed order keeps the address it was sent to -------------------------------------


def test_editing_or_deleting_the_address_later_never_changes_a_placed_order(shopper, customer):
    shopper.post(CHECKOUT, checkout_form(shopper))
    address = customer.addresses.get()
    sent_to = Order.objects.get().ship_to

    fields = {field: "Changed" for field in ("name", "line1", "line2", "city", "postcode", "country")}
    address_update(address=address, fields=fields)
    address_delete(address=address)

    assert not Address.objects.exists()
    assert Order.objects.get().ship_to == sent_to
    assert "High Street" in sent_to[1]


def test_an_order_page_shows_where_and_how_it_goes(shopper):
    placed = shopper.post(CHECKOUT, checkout_form(shopper))

    page = shopper.get(placed["Location"]).content.decode()

    assert "Standard delivery, to:" in page
    assert "LS1 4AP Leeds" in page
    assert "Delivery: Standard delivery" in page
    assert "$4.95" in page
    assert "$20.95" in page


# --- The cost -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 15])
def test_placing_an_order_to_a_new_address_runs_the_same_queries_whatever_the_book_and_lines(
    shopper, customer, django_assert_num_queries, n
):
    products = ProductFactory.create_batch(n, category=CategoryFactory())
    put_in_cart(shopper, {product.pk: 1 for product in products})
    AddressFactory.create_batch(n - 1, customer=customer, is_default=False)
    form = {**checkout_form(shopper), "address": "new", **NEW_ADDRESS}

    # as with a kept address (tests/accounts/test_checkout.py, 23), and address_add's 5: a
    # savepoint, the customer's row locked, the book counted, the address inserted, release
    with django_assert_num_queries(28):
        response = shopper.post(CHECKOUT, form)

    assert response.status_code == 303
    assert customer.addresses.count() == n + 1
