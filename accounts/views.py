"""The customer's pages: cart, checkout, sign-up and order history."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.cart import Cart
from accounts.forms import CartAddForm, CartChangeForm, CartRemoveForm, CartUpdateForm, SignupForm
from accounts.selectors import cart_summary, order_for_user, orders_for_user
from accounts.services import (
    CustomerEmailUnusable,
    SignupConflict,
    customer_for_user,
    customer_signup,
    order_place,
)
from catalog.services import OutOfStock, ProductUnavailable
from shopsite.db.retry import retry_on_primary

ORDERS_PER_PAGE = 20


def _see_other(url: str) -> HttpResponseRedirect:
    """Redirect after a POST with 303, so that reloading the next page never posts again."""
    return HttpResponseRedirect(url, status=303)


def _next_or_cart(request: HttpRequest) -> str:
    """Return the `next` URL posted with a cart change if it is on this site, else the cart."""
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return reverse("accounts:cart")


def _render_cart(request: HttpRequest, cart: Cart, *, status: int = 200) -> HttpResponse:
    return render(request, "accounts/cart.html", {"summary": cart_summary(cart)}, status=status)


def _cart_change_refused(request: HttpRequest, cart: Cart, form: CartChangeForm) -> HttpResponse:
    """Show the cart, unchanged, with why the change was refused."""
    for message in form.messages():
        messages.error(request, message)
    return _render_cart(request, cart, status=400)


@retry_on_primary
@require_GET
def cart(request: HttpRequest) -> HttpResponse:
    return _render_cart(request, Cart(request.session))


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    cart = Cart(request.session)
    form = CartAddForm(request.POST, cart=cart)
    if not form.is_valid():
        return _cart_change_refused(request, cart, form)
    cart.set(form.cleaned_data["product_id"], form.cleaned_data["new_quantity"])
    messages.success(request, "Added to your cart.")
    return _see_other(_next_or_cart(request))


@require_POST
def cart_update(request: HttpRequest) -> HttpResponse:
    cart = Cart(request.session)
    form = CartUpdateForm(request.POST, cart=cart)
    if not form.is_valid():
        return _cart_change_refused(request, cart, form)
    cart.set(form.cleaned_data["product_id"], form.cleaned_data["quantity"])
    messages.success(request, "Your cart was updated." if form.cleaned_data["quantity"] else "Removed.")
    return _see_other(_next_or_cart(request))


@require_POST
def cart_remove(request: HttpRequest) -> HttpResponse:
    cart = Cart(request.session)
    form = CartRemoveForm(request.POST, cart=cart)
    if not form.is_valid():
        return _cart_change_refused(request, cart, form)
    cart.remove(form.cleaned_data["product_id"])
    messages.success(request, "Removed from your cart.")
    return _see_other(_next_or_cart(request))


@retry_on_primary
@login_required
@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    cart = Cart(request.session)
    if not len(cart):
        messages.info(request, "Your cart is empty.")
        return _see_other(reverse("accounts:cart"))
    if request.method == "POST":
        return _checkout_place(request, cart)
    summary = cart_summary(cart)
    if not summary.can_check_out:
        messages.warning(request, "Some items in your cart need your attention before you can check out.")
        return _see_other(reverse("accounts:cart"))
    return render(request, "accounts/checkout.html", {"summary": summary})


def _checkout_place(request: HttpRequest, cart: Cart) -> HttpResponse:
    """Place the order of the cart; on any shortage send the customer back to the cart."""
    try:
        customer = customer_for_user(user=request.user)
        order = order_place(customer=customer, lines=cart.quantities())
    except OutOfStock as short:
        if short.available:
            left = f"only {short.available} of {short.product_name} left"
            text = f"Sorry, {left} (you asked for {short.requested})."
        else:
            text = f"Sorry, {short.product_name} is sold out."
        messages.error(request, f"{text} Nothing was charged: please update your cart.")
        return _see_other(reverse("accounts:cart"))
    except ProductUnavailable as gone:
        name = gone.product_name or "An item in your cart"
        messages.error(request, f"{name} is no longer available. Nothing was charged: please remove it.")
        return _see_other(reverse("accounts:cart"))
    except CustomerEmailUnusable:
        messages.error(
            request, "Your account needs its own email address to place orders: please contact the shop."
        )
        return _see_other(reverse("accounts:cart"))
    cart.clear()
    messages.success(request, f"Thank you! Your order #{order.pk} is placed.")
    return _see_other(reverse("accounts:order", args=[order.pk]))


@retry_on_primary
@login_required
@require_GET
def orders(request: HttpRequest) -> HttpResponse:
    page = Paginator(orders_for_user(user=request.user), ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "accounts/order_list.html", {"page": page})


@retry_on_primary
@login_required
@require_GET
def order(request: HttpRequest, pk: int) -> HttpResponse:
    found = order_for_user(user=request.user, pk=pk)
    if found is None:
        raise Http404("No such order.")
    return render(request, "accounts/order_detail.html", {"order": found})


@retry_on_primary
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            customer = customer_signup(
                username=data["username"], name=data["name"], email=data["email"], password=data["password1"]
            )
        except SignupConflict as conflict:
            form.add_error(conflict.field, "This was just taken by another account: choose another.")
        else:
            # Named: axes' backend comes first in AUTHENTICATION_BACKENDS, and it logs nobody in.
            login(request, customer.user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {customer.name}!")
            return _see_other(reverse("catalog:home"))
    return render(request, "accounts/signup.html", {"form": form})
