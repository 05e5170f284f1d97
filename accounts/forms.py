"""Input validation for the cart, the checkout and sign-up."""

from django import forms
from django.contrib.auth.forms import UserCreationForm

from accounts.cart import MAX_LINES, MAX_QUANTITY, Cart
from accounts.checkout import Confirmation, ConfirmationInvalid
from accounts.emails import email_normalise
from accounts.models import Customer, User
from accounts.selectors import customer_email_taken, product_for_cart

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


class CheckoutForm(forms.Form):
    """A submission of the checkout page: its signed confirmation of what the customer was shown."""

    confirmation = forms.CharField(
        widget=forms.HiddenInput,
        max_length=MAX_CONFIRMATION_LENGTH,
        error_messages={"required": CONFIRMATION_OUT_OF_DATE, "max_length": CONFIRMATION_OUT_OF_DATE},
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

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

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        if customer_email_taken(email=email):
            raise forms.ValidationError("An account with this email already exists.")
        return email
