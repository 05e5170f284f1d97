"""One mailbox, one customer: email addresses as the shop stores and compares them."""

import unicodedata


def email_normalise(email: str) -> str:
    """Return the address as the shop stores and compares it: NFKC, trimmed, the domain lowercased.

    NFKC folds the compatibility forms of characters into the plain ones, so "example" typed in
    fullwidth letters (U+FF45 ...) is "example": one mailbox, one customer. The local part keeps
    the case it was typed in (a mail server may tell "Ada" from "ada"), and the shop compares it
    without case, as the constraint customer_email_unique_ci does (on Lower(email)).
    """
    email = unicodedata.normalize("NFKC", email).strip()
    local, at, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}" if at else email
