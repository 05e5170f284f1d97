"""Signals of the accounts app, for the apps that build on it (it imports none of them)."""

from django.dispatch import Signal

# Sent inside the transaction that deleted every order and customer (the demo's `--reset`), whose
# ids start again from 1: anything kept about past orders by id is now about other orders.
shop_data_reset = Signal()
