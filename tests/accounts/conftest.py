import pytest
from django.test import Client

from accounts.models import Customer
from tests.factories import AddressFactory, CustomerFactory, UserFactory


@pytest.fixture
def customer(db) -> Customer:
    """Return a customer with a user account and a default address."""
    customer = CustomerFactory(user=UserFactory())
    AddressFactory(customer=customer)
    return customer


@pytest.fixture
def customer_client(client: Client, customer: Customer) -> Client:
    """Return a client logged in as `customer`'s user."""
    client.force_login(customer.user)
    return client
