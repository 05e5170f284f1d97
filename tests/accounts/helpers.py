"""Small helpers shared by the tests of the customer's pages."""

from django.test import Client

from accounts.cart import SESSION_KEY


def put_in_cart(client: Client, quantities: dict[int, int]) -> None:
    """Store a cart of {product_id: quantity} in the client's session, as the cart views do."""
    session = client.session
    session[SESSION_KEY] = {str(product_id): quantity for product_id, quantity in quantities.items()}
    session.save()


def cart_of(client: Client) -> dict[str, int]:
    """Return the cart stored in the client's session."""
    return client.session.get(SESSION_KEY, {})
