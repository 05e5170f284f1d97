"""The customer's account: its overview, the profile (name and email) and the address book. The
password's pages are Django's own views (accounts/urls.py); the orders' are in accounts/views.py."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.forms import AddressForm, ProfileForm
from accounts.models import Address
from accounts.selectors import address_for_user, addresses_for_user, customer_of_user
from accounts.services import (
    MAX_ADDRESSES,
    AddressBookFull,
    CustomerEmailTaken,
    address_add,
    address_delete,
    address_set_default,
    address_update,
    customer_for_user,
    customer_profile_save,
)
from shopsite.db.retry import retry_on_primary


def _see_other(url: str) -> HttpResponseRedirect:
    """Redirect after a POST with 303, so that reloading the next page never posts again."""
    return HttpResponseRedirect(url, status=303)


def _address_of(request: HttpRequest, pk: int) -> Address:
    """Return the customer's address `pk`; another customer's is not found (404), as one that never was."""
    address = address_for_user(user=request.user, pk=pk)
    if address is None:
        raise Http404("No such address.")
    return address


@retry_on_primary
@login_required
@require_safe
def account(request: HttpRequest) -> HttpResponse:
    context = {"customer": customer_of_user(user=request.user)}
    return render(request, "accounts/account.html", context)


@retry_on_primary
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    customer = customer_of_user(user=request.user)
    data = request.POST if request.method == "POST" else None
    form = ProfileForm(data, user=request.user, customer=customer)
    if form.is_bound and form.is_valid():
        try:
            customer_profile_save(
                user=request.user, name=form.cleaned_data["name"], email=form.cleaned_data["email"]
            )
        except CustomerEmailTaken:
            form.add_error("email", "Another account has just taken this email: choose another.")
        else:
            messages.success(request, "Your details are saved.")
            return _see_other(reverse("accounts:account"))
    status = 400 if form.is_bound else 200
    return render(request, "accounts/profile.html", {"form": form}, status=status)


@retry_on_primary
@login_required
@require_safe
def addresses(request: HttpRequest) -> HttpResponse:
    book = addresses_for_user(user=request.user)
    context = {"addresses": book, "can_add": len(book) < MAX_ADDRESSES, "max_addresses": MAX_ADDRESSES}
    return render(request, "accounts/address_list.html", context)


@retry_on_primary
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def address_new(request: HttpRequest) -> HttpResponse:
    form = AddressForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            customer = customer_for_user(user=request.user)
            address_add(customer=customer, fields=form.values(), make_default="make_default" in request.POST)
        except AddressBookFull:
            form.add_error(None, f"Your address book is full ({MAX_ADDRESSES} addresses): delete one first.")
        else:
            messages.success(request, "The address is added to your address book.")
            return _see_other(reverse("accounts:addresses"))
    status = 400 if form.is_bound else 200
    return render(request, "accounts/address_form.html", {"form": form, "address": None}, status=status)


@retry_on_primary
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def address_edit(request: HttpRequest, pk: int) -> HttpResponse:
    address = _address_of(request, pk)
    form = AddressForm(request.POST if request.method == "POST" else None, instance=address)
    if form.is_bound and form.is_valid():
        address_update(address=address, fields=form.values())
        messages.success(request, "The address is saved. Orders already placed keep the address they had.")
        return _see_other(reverse("accounts:addresses"))
    status = 400 if form.is_bound else 200
    return render(request, "accounts/address_form.html", {"form": form, "address": address}, status=status)


@login_required
@require_POST
def address_remove(request: HttpRequest, pk: int) -> HttpResponse:
    address_delete(address=_address_of(request, pk))
    messages.success(request, "The address is deleted. Orders already placed keep their address.")
    return _see_other(reverse("accounts:addresses"))


@login_required
@require_POST
def address_default(request: HttpRequest, pk: int) -> HttpResponse:
    address_set_default(address=_address_of(request, pk))
    messages.success(request, "That is your default address now: checkout chooses it first.")
    return _see_other(reverse("accounts:addresses"))
