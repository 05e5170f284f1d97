"""Input validation for the cart, the checkout, sign-up, login and the account."""

from collections.abc import Sequence

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import UserCreationForm

from accounts.cart import MAX_LINES, MAX_QUANTITY, Cart
from accounts.checkout import Confirmation, ConfirmationInvalid
from accounts.emails import email_normalise
from accounts.models import ADDRESS_FIELDS, Address, Customer, User
from accounts.selectors import customer_email_taken, product_for_cart
from accounts.services import MAX_ADDRESSES, DeliveryChosen

# The largest id a bigint primary key can hold: anything above is no product, and no query is made.
MAX_PRODUCT_ID = 2**63 - 1

PRODUCT_ID_ERRORS = {
    "required": "Choose a product.",
    "invalid": "Unknown product.",
    "min_value": "Unknown product.",
    "max_value": "Unknown product.",
}
QUANTITY_ERRORS = {
    "required": "Choose a quantity.",
    "invalid": "The quantity must be a whole number.",
    "min_value": "The quantity must be at least %(limit_value)s.",
    "max_value": f"You can buy at most {MAX_QUANTITY} of one product.",
}


def _product_id_field() -> forms.IntegerField:
    return forms.IntegerField(min_value=1, max_value=MAX_PRODUCT_ID, error_messages=PRODUCT_ID_ERRORS)


def _stock_error(name: str, stock: int) -> str:
    return f"{name} is sold out." if stock == 0 else f"Only {stock} of {name} left."


class CartChangeForm(forms.Form):
    """A change to the cart: every value given once, checked against the cart it changes."""

    def __init__(self, *args, cart: Cart, **kwargs):
        super().__init__(*args, **kwargs)
        self.cart = cart

    def clean(self):
        cleaned_data = super().clean()
        getlist = getattr(self.data, "getlist", None)
        if getlist is not None:
            for name in self.fields:
                # `?quantity=1&quantity=50`: which one was meant is a guess, so neither is taken.
                if len(getlist(name)) > 1:
                    self.add_error(name, "Give this value only once.")
        return cleaned_data

    def messages(self) -> list[str]:
        """Return the form's errors as sentences for the messages framework, without repeats."""
        return list(dict.fromkeys(error for errors in self.errors.values() for error in errors))

    def _check_product(self, product_id: int, quantity: int) -> None:
        """Add an error unless the product is sold and has `quantity` in stock."""
        product = product_for_cart(product_id=product_id)
        if product is None or not product.is_active:
            self.add_error(None, "Sorry, this product is not available.")
        elif product.stock < quantity:
            self.add_error(None, _stock_error(product.name, product.stock))


class CartAddForm(CartChangeForm):
    product_id = _product_id_field()
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY, error_messages=QUANTITY_ERRORS)

    def clean(self):
        cleaned_data = super().clean()
        if self.errors:
            return cleaned_data  # no query for input that is already wrong
        product_id = cleaned_data["product_id"]
        in_cart = self.cart.quantity_of(product_id)
        new_quantity = in_cart + cleaned_data["quantity"]
        if not in_cart and len(self.cart) >= MAX_LINES:
            self.add_error(None, f"Your cart is full: it holds at most {MAX_LINES} different products.")
        elif new_quantity > MAX_QUANTITY:
            self.add_error(
                None, f"You can buy at most {MAX_QUANTITY} of one product; your cart already has {in_cart}."
            )
        else:
            self._check_product(product_id, new_quantity)
        cleaned_data["new_quantity"] = new_quantity
        return cleaned_data


class CartUpdateForm(CartChangeForm):
    product_id = _product_id_field()
    quantity = forms.IntegerField(
        min_value=0, max_value=MAX_QUANTITY, error_messages=QUANTITY_ERRORS, help_text="0 removes it."
    )

    def clean(self):
        cleaned_data = super().clean()
        if self.errors:
            return cleaned_data
        if cleaned_data["product_id"] not in self.cart:
            self.add_error(None, "That product is not in your cart.")
        elif cleaned_data["quantity"]:
            # Lowering to 0 needs no check: a product that is gone can always be taken out.
            self._check_product(cleaned_data["product_id"], cleaned_data["quantity"])
        return cleaned_data


class CartRemoveForm(CartChangeForm):
    product_id = _product_id_field()

    def clean(self):
        cleaned_data = super().clean()
        if not self.errors and cleaned_data["product_id"] not in self.cart:
            self.add_error(None, "That product is not in your cart.")
        return cleaned_data


# Ample for MAX_LINES lines of long names, signed and compressed; anything longer is no confirmation.
MAX_CONFIRMATION_LENGTH = 20_000
CONFIRMATION_OUT_OF_DATE = "This checkout page is out of date: check your order below and place it again."


# The address radio's value for "a new address", typed on the checkout page.
NEW_ADDRESS = "new"
ADDRESS_NOT_SHOWN = "Choose one of the addresses shown."
DELIVERY_NOT_SHOWN = "Choose one of the delivery options shown."
ADDRESS_BOOK_FULL = (
    f"Your address book is full ({MAX_ADDRESSES} addresses): choose one of them, or delete one"
    " in your account to add another."
)


# What browsers fill each field of an address from (the HTML standard's autofill names).
ADDRESS_AUTOCOMPLETE = {
    "name": "name",
    "line1": "address-line1",
    "line2": "address-line2",
    "city": "address-level2",
    "postcode": "postal-code",
    "country": "country-name",
}


def _address_field(name: str) -> forms.Field:
    field = Address._meta.get_field(name).formfield()
    field.widget.attrs["autocomplete"] = ADDRESS_AUTOCOMPLETE[name]
    return field


class AddressForm(forms.Form):
    """An address of the book, as the account's pages and the checkout's new address take it.

    Not a ModelForm: that would check each of the model's CHECK constraints with a query of its
    own. These fields say the same (required but the second line, within the columns' lengths),
    and the database checks the constraints on the write.
    """

    name = _address_field("name")
    line1 = _address_field("line1")
    line2 = _address_field("line2")
    city = _address_field("city")
    postcode = _address_field("postcode")
    country = _address_field("country")

    def __init__(self, *args, instance: Address | None = None, **kwargs):
        if instance is not None:
            kwargs.setdefault("initial", {field: getattr(instance, field) for field in ADDRESS_FIELDS})
        super().__init__(*args, **kwargs)

    def values(self) -> dict[str, str]:
        """Return the address's fields as cleaned, for the services."""
        return {field: self.cleaned_data[field] for field in ADDRESS_FIELDS}


class CheckoutForm(forms.Form):
    """A submission of the checkout page: its signed confirmation of what the customer was shown,
    the address chosen (one of the book's shown, or a new one typed below) and the delivery option."""

    confirmation = forms.CharField(
        widget=forms.HiddenInput,
        max_length=MAX_CONFIRMATION_LENGTH,
        error_messages={"required": CONFIRMATION_OUT_OF_DATE, "max_length": CONFIRMATION_OUT_OF_DATE},
    )
    address = forms.CharField(
        max_length=20,
        error_messages={"required": "Choose where to send your order.", "max_length": ADDRESS_NOT_SHOWN},
    )
    delivery = forms.IntegerField(
        min_value=1,
        max_value=MAX_PRODUCT_ID,
        error_messages={
            "required": "Choose a delivery option.",
            **dict.fromkeys(("invalid", "min_value", "max_value"), DELIVERY_NOT_SHOWN),
        },
    )

    def __init__(self, *args, user: User, addresses: Sequence[Address] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.book = {address.pk: address for address in addresses}
        # No `required` in the HTML: the new address's fields are hidden while a kept one is chosen.
        self.new_address = AddressForm(
            self.data if self.is_bound else None, prefix="new", use_required_attribute=False
        )

    def clean_confirmation(self) -> Confirmation:
        # Two confirmations in one submission: which page was meant is a guess, so neither is taken.
        getlist = getattr(self.data, "getlist", None)
        if getlist is not None and len(getlist("confirmation")) > 1:
            raise forms.ValidationError(CONFIRMATION_OUT_OF_DATE)
        try:
            confirmation = Confirmation.from_signed(self.cleaned_data["confirmation"])
        except ConfirmationInvalid:
            raise forms.ValidationError(CONFIRMATION_OUT_OF_DATE) from None
        # Shown to someone else (a page saved before a logout, then another login): not this user's.
        if confirmation.user_id != self.user.pk:
            raise forms.ValidationError(CONFIRMATION_OUT_OF_DATE)
        return confirmation

    def clean_address(self) -> int | str:
        value = self.cleaned_data["address"]
        if value == NEW_ADDRESS:
            return value
        if not value.isdecimal() or not value.isascii():
            raise forms.ValidationError(ADDRESS_NOT_SHOWN)
        return int(value)

    def clean(self):
        cleaned_data = super().clean()
        getlist = getattr(self.data, "getlist", None)
        for name in ("address", "delivery"):
            # Two choices in one submission: which one was meant is a guess, so neither is taken.
            if getlist is not None and len(getlist(name)) > 1 and name in cleaned_data:
                self.add_error(name, "Choose one only.")
        shown = cleaned_data.get("confirmation")
        if shown is None:
            return cleaned_data  # nothing to choose among: the confirmation's error says why
        if cleaned_data.get("delivery") is not None and cleaned_data["delivery"] not in shown.deliveries:
            self.add_error("delivery", DELIVERY_NOT_SHOWN)
        address = cleaned_data.get("address")
        if address == NEW_ADDRESS:
            if len(self.book) >= MAX_ADDRESSES:
                self.add_error("address", ADDRESS_BOOK_FULL)
            elif not self.new_address.is_valid():
                self.add_error("address", "Please complete the new address.")
        # Not offered by this page: another customer's address, or a made-up number.
        elif address is not None and address not in shown.addresses:
            self.add_error("address", ADDRESS_NOT_SHOWN)
        return cleaned_data

    def delivery_chosen(self) -> DeliveryChosen:
        """Return the delivery option chosen, with its name and price as the page showed them."""
        option_id = self.cleaned_data["delivery"]
        shown = self.cleaned_data["confirmation"].deliveries[option_id]
        return DeliveryChosen(option_id=option_id, name=shown.name, price=shown.price)

    def address_chosen(self) -> int | None:
        """Return the id of the book's address chosen, or None for a new address."""
        address = self.cleaned_data["address"]
        return None if address == NEW_ADDRESS else address


class EmailAddressField(forms.EmailField):
    """An email address, cleaned to the form the shop stores and compares (email_normalise)."""

    def to_python(self, value) -> str:
        # Before the validators: what they check (the length too) is what is stored.
        return email_normalise(super().to_python(value))


class SignupForm(UserCreationForm):
    """A new customer account: login name, the customer's name and email, a password twice."""

    name = forms.CharField(max_length=Customer._meta.get_field("name").max_length, label="Your name")
    email = EmailAddressField(max_length=Customer._meta.get_field("email").max_length)

    field_order = ["username", "name", "email", "password1", "password2"]

    class Meta(UserCreationForm.Meta):
        model = User
        # email is set on the user too, so the password validators can compare the password with it.
        fields = ("username", "email")

    def validate_password_for_user(self, user: User, **kwargs) -> None:
        # The name is the customer's, not the user's: lend it so "too similar to your name" applies.
        user.first_name = self.cleaned_data.get("name", "")
        super().validate_password_for_user(user, **kwargs)

    def clean_username(self) -> str | None:
        username = super().clean_username()  # None when taken: the error is added
        # An email logs in too (accounts/backends.py): a username never looks like one.
        if username and "@" in username:
            raise forms.ValidationError("Choose a username without @: your email logs you in too.")
        return username

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        if customer_email_taken(email=email):
            raise forms.ValidationError("An account with this email already exists.")
        return email


LOGIN_MAX_LENGTH = Customer._meta.get_field("email").max_length


class LoginForm(auth_forms.AuthenticationForm):
    """Django's login form, taking a customer's email as well as a username."""

    # No length check here, as in Django's form: a long name is a failed login, counted by axes.
    username = auth_forms.UsernameField(
        label="Username or email",
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    error_messages = {
        **auth_forms.AuthenticationForm.error_messages,
        "invalid_login": "Please enter a correct username or email and password. Both may be case-sensitive.",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Django gives the box a username's length; an email may be longer.
        self.fields["username"].widget.attrs["maxlength"] = LOGIN_MAX_LENGTH


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's password reset form, the address read as the shop stores it (email_normalise)."""

    email = EmailAddressField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


class ProfileForm(forms.Form):
    """The customer's name and email; a new email asks for the password, as it is what a password
    reset is sent to."""

    name = forms.CharField(max_length=Customer._meta.get_field("name").max_length, label="Your name")
    email = EmailAddressField(max_length=Customer._meta.get_field("email").max_length)
    password = forms.CharField(
        label="Your password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Needed to change your email.",
    )

    def __init__(self, *args, user: User, customer: Customer | None, **kwargs):
        self.user, self.customer = user, customer
        initial = (
            {"name": customer.name, "email": customer.email}
            if customer is not None
            else {"name": user.get_full_name() or user.get_username(), "email": user.email}
        )
        super().__init__(*args, initial=initial, **kwargs)

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        other_than = self.customer.pk if self.customer is not None else None
        if customer_email_taken(email=email, other_than=other_than):
            raise forms.ValidationError("Another account has this email.")
        return email

    def clean(self):
        cleaned_data = super().clean()
        email = cleaned_data.get("email")
        changed = email is not None and email != self.initial["email"]
        if changed and not self.user.check_password(cleaned_data.get("password", "")):
            self.add_error("password", "Enter your password to change your email.")
        return cleaned_data
