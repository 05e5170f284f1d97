"""Small helpers shared by the tests of the customer's pages."""

from django.test import Client
from django.urls import reverse

from accounts.cart import SESSION_KEY


def put_in_cart(client: Client, quantities: dict[int, int]) -> None:
    """Store a cart of {product_id: quantity} in the client's session, as the cart views do."""
    session = client.session
    session[SESSION_KEY] = {str(product_id): quantity for product_id, quantity in quantities.items()}
    session.save()


def cart_of(client: Client) -> dict[str, int]:
    """Return the cart stored in the client's session."""
    return client.session.get(SESSION_KEY, {})


def checkout_confirmation(client: Client) -> str:
    """Open the checkout page as the client and return the signed confirmation its form carries."""
    return checkout_form(client)["confirmation"]


def checkout_form(client: Client) -> dict[str, str]:
    """Open the checkout page as the client and return what its form sends as it is shown: the
    signed confirmation, the address and the delivery option preselected."""
    response = client.get(reverse("accounts:checkout"))
    assert response.status_code == 200, response
    return form_of(response)


def form_of(response) -> dict[str, str]:
    """Return what the checkout page of `response` sends when "Place order" is clicked unchanged."""
    return {"confirmation": response.context["confirmation"], **response.context["selected"]}


def place_order(client: Client, **extra: str):
    """Open the checkout page and submit it, as a customer clicking "Place order"; return the answer."""
    return client.post(reverse("accounts:checkout"), {**checkout_form(client), **extra})
