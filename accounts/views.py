"""The customer's pages: cart, checkout, sign-up and order history (the account's own pages, its
profile and address book, are in accounts/account_views.py)."""

from http import HTTPStatus

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.cart import Cart, locked_cart, session_cookie_renewed
from accounts.checkout import Confirmation, address_unchanged, confirmation_changes, confirmation_for
from accounts.forms import (
    ADDRESS_BOOK_FULL,
    NEW_ADDRESS,
    CartAddForm,
    CartChangeForm,
    CartRemoveForm,
    CartUpdateForm,
    CheckoutForm,
    SignupForm,
)
from accounts.models import SHIPPED_STATUSES, Address, DeliveryOption, OrderStatus
from accounts.selectors import (
    addresses_for_user,
    cart_summary,
    delivery_options_offered,
    order_for_checkout,
    order_for_user,
    order_status_for_user,
    orders_for_user,
)
from accounts.services import (
    MAX_ADDRESSES,
    ORDER_TRANSITIONS,
    AddressBookFull,
    CustomerEmailUnusable,
    CustomerInactive,
    DeliveryChanged,
    PricesChanged,
    SignupConflict,
    address_add,
    customer_for_user,
    customer_signup,
    order_place,
    orders_transition,
)
from catalog.services import OutOfStock, ProductUnavailable
from shopsite.caching.page_cache import show_fresh_pages
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
@require_safe
def cart(request: HttpRequest) -> HttpResponse:
    return _render_cart(request, Cart(request.session))


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    # Checked and changed with the session's row locked: quick adds from two tabs all count.
    with locked_cart(request.session) as cart:
        form = CartAddForm(request.POST, cart=cart)
        if form.is_valid():
            cart.set(form.cleaned_data["product_id"], form.cleaned_data["new_quantity"])
    if not form.is_valid():
        return _cart_change_refused(request, cart, form)
    messages.success(request, "Added to your cart.")
    return session_cookie_renewed(_see_other(_next_or_cart(request)), cart)


@require_POST
def cart_update(request: HttpRequest) -> HttpResponse:
    with locked_cart(request.session) as cart:
        form = CartUpdateForm(request.POST, cart=cart)
        if form.is_valid():
            cart.set(form.cleaned_data["product_id"], form.cleaned_data["quantity"])
    if not form.is_valid():
        return _cart_change_refused(request, cart, form)
    messages.success(request, "Your cart was updated." if form.cleaned_data["quantity"] else "Removed.")
    return session_cookie_renewed(_see_other(_next_or_cart(request)), cart)


@require_POST
def cart_remove(request: HttpRequest) -> HttpResponse:
    with locked_cart(request.session) as cart:
        form = CartRemoveForm(request.POST, cart=cart)
        if form.is_valid():
            cart.remove(form.cleaned_data["product_id"])
    if not form.is_valid():
        return _cart_change_refused(request, cart, form)
    messages.success(request, "Removed from your cart.")
    return session_cookie_renewed(_see_other(_next_or_cart(request)), cart)


@retry_on_primary
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _checkout_place(request)
    cart = Cart(request.session)
    if not len(cart):
        messages.info(request, "Your cart is empty.")
        return _see_other(reverse("accounts:cart"))
    return _checkout_page(request, cart)


def _checkout_page(
    request: HttpRequest,
    cart: Cart,
    *,
    form: CheckoutForm | None = None,
    shown: Confirmation | None = None,
    status: int = HTTPStatus.OK,
) -> HttpResponse:
    """Render the checkout page of the cart, the address book and the delivery options, with a new
    signed confirmation of what it shows and the choices of `form` (the default address and the
    first option when none), saying first how the order differs from what the customer was
    `shown`, if given."""
    summary = cart_summary(cart)
    if not summary.can_check_out:
        messages.warning(request, "Some items in your cart need your attention before you can check out.")
        return _see_other(reverse("accounts:cart"))
    addresses, deliveries = addresses_for_user(user=request.user), delivery_options_offered()
    if form is None:
        form = CheckoutForm(
            user=request.user, addresses=addresses, initial=_preselected(addresses, deliveries)
        )
    selected = {name: str(form[name].value() or "") for name in ("address", "delivery")}
    if shown is not None:
        messages.warning(request, "Your order changed since you opened this page, so nothing was charged:")
        changes = confirmation_changes(
            confirmation=shown,
            summary=summary,
            delivery_id=_as_id(selected["delivery"]),
            deliveries=deliveries,
            address_id=_as_id(selected["address"]),
            addresses=addresses,
        )
        for change in changes:
            messages.warning(request, change)
        messages.warning(request, "Please check the new figures below and place the order again.")
    confirmation = confirmation_for(
        summary=summary, user_id=request.user.pk, addresses=addresses, deliveries=deliveries
    )
    context = {
        "summary": summary,
        "confirmation": confirmation.signed(),
        "form": form,
        "addresses": addresses,
        "can_add_address": len(addresses) < MAX_ADDRESSES,
        "offers": [(option, summary.total + option.price) for option in deliveries],
        "selected": selected,
        "new_address": NEW_ADDRESS,
    }
    return render(request, "accounts/checkout.html", context, status=status)


def _preselected(addresses: list[Address], deliveries: list[DeliveryOption]) -> dict[str, object]:
    """Return the checkout's first choices: the default address (listed first), or a new one when
    the book is empty, and the first delivery option."""
    return {
        "address": addresses[0].pk if addresses else NEW_ADDRESS,
        "delivery": deliveries[0].pk if deliveries else None,
    }


def _as_id(value: str) -> int | None:
    return int(value) if value.isdecimal() and value.isascii() and len(value) < 19 else None


def _checkout_place(request: HttpRequest) -> HttpResponse:
    """Place the order the checkout page showed, once, to the address and by the delivery chosen;
    if the cart, a price, the delivery or the address differs now, show the page again with the
    new figures; if the order cannot be placed, send the customer to the cart."""
    # The session's row stays locked until the cart is emptied: of one page submitted twice at
    # once, the first submission places the order and the second finds it.
    with locked_cart(request.session) as cart:
        # Read under the lock, on the primary: the book as the order will copy it.
        form = CheckoutForm(request.POST, user=request.user, addresses=addresses_for_user(user=request.user))
        valid = form.is_valid()
        shown = form.cleaned_data.get("confirmation")
        placed = order_for_checkout(user=request.user, token=shown.token) if shown else None
        if placed is not None:
            return _order_placed(request, placed.pk)
        if not len(cart):
            messages.info(request, "Your cart is empty.")
            return _see_other(reverse("accounts:cart"))
        if not valid:
            for error in form.errors.get("confirmation", []):
                messages.error(request, error)
            return _checkout_page(request, cart, form=form, status=HTTPStatus.BAD_REQUEST)
        # Another tab added, removed or changed a line, or changed the address, since this page was shown.
        address_id = form.address_chosen()
        address = form.book.get(address_id)
        if cart.quantities() != shown.quantities or (
            address_id is not None
            and not address_unchanged(confirmation=shown, address=address, address_id=address_id)
        ):
            return _checkout_page(request, cart, form=form, shown=shown, status=HTTPStatus.CONFLICT)
        delivery = form.delivery_chosen()
        try:
            customer = customer_for_user(user=request.user)
            if address is None:
                # Kept in the book whatever happens to the order: the customer typed it once.
                address = address_add(customer=customer, fields=form.new_address.values())
                form = CheckoutForm(
                    user=request.user, initial={"address": address.pk, "delivery": delivery.option_id}
                )
            order = order_place(
                customer=customer,
                lines=shown.quantities,
                prices=shown.prices,
                checkout_token=shown.token,
                delivery=delivery,
                ship_to=address,
            )
        except (PricesChanged, DeliveryChanged):
            return _checkout_page(request, cart, form=form, shown=shown, status=HTTPStatus.CONFLICT)
        except AddressBookFull:
            form.add_error("address", ADDRESS_BOOK_FULL)
            return _checkout_page(request, cart, form=form, status=HTTPStatus.BAD_REQUEST)
        except (OutOfStock, ProductUnavailable, CustomerEmailUnusable, CustomerInactive) as refused:
            messages.error(request, _why_refused(refused))
            return _see_other(reverse("accounts:cart"))
        cart.clear()
        show_fresh_pages(request.session)  # saved with the emptied cart, under its lock
    return session_cookie_renewed(_order_placed(request, order.pk), cart)


def _order_placed(request: HttpRequest, pk: int) -> HttpResponse:
    # The same words for a repeated submission: the browser shows the last answer of a double click.
    messages.success(request, f"Thank you! Your order #{pk} is placed.")
    return _see_other(reverse("accounts:order", args=[pk]))


def _why_refused(error: Exception) -> str:
    """Return what to tell the customer whose order `error` refused, writing nothing."""
    if isinstance(error, OutOfStock):
        if error.available:
            left = f"only {error.available} of {error.product_name} left"
            text = f"Sorry, {left} (you asked for {error.requested})."
        else:
            text = f"Sorry, {error.product_name} is sold out."
        return f"{text} Nothing was charged: please update your cart."
    if isinstance(error, ProductUnavailable):
        name = error.product_name or "An item in your cart"
        return f"{name} is no longer available. Nothing was charged: please remove it."
    if isinstance(error, CustomerInactive):
        return "Your account is closed and cannot place orders. Nothing was charged: please contact us."
    return "Your account needs its own email address to place orders: please contact the shop."


@retry_on_primary
@login_required
@require_safe
def orders(request: HttpRequest) -> HttpResponse:
    page = Paginator(orders_for_user(user=request.user), ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "accounts/order_list.html", {"page": page})


@retry_on_primary
@login_required
@require_safe
def order(request: HttpRequest, pk: int) -> HttpResponse:
    found = order_for_user(user=request.user, pk=pk)
    if found is None:
        raise Http404("No such order.")
    can_cancel = OrderStatus.CANCELLED in ORDER_TRANSITIONS[found.status]
    return render(request, "accounts/order_detail.html", {"order": found, "can_cancel": can_cancel})


@login_required
@require_POST
def order_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel the customer's order if it has not shipped: its items go back in stock."""
    if order_status_for_user(user=request.user, pk=pk) is None:
        raise Http404("No such order.")
    if orders_transition(order_ids=[pk], to=OrderStatus.CANCELLED):
        messages.success(request, f"Order #{pk} is cancelled: nothing will be sent.")
        return _see_other(reverse("accounts:order", args=[pk]))
    # Read after the attempt: staff may have shipped it a moment ago.
    status = order_status_for_user(user=request.user, pk=pk)
    if status in SHIPPED_STATUSES:
        messages.error(request, f"Order #{pk} has already shipped, so it can no longer be cancelled.")
    elif status == OrderStatus.CANCELLED:
        messages.info(request, f"Order #{pk} was already cancelled.")
    else:
        messages.error(request, f"Order #{pk} could not be cancelled: please try again.")
    return _see_other(reverse("accounts:order", args=[pk]))


@retry_on_primary
@require_http_methods(["GET", "HEAD", "POST"])
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
