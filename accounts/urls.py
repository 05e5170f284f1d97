from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from accounts import account_views, views
from accounts.forms import LoginForm, PasswordResetForm
from accounts.login import LoginView
from shopsite.db.retry import retry_on_primary

app_name = "accounts"

# Django's password views, on the shop's templates. Not Django's default template names for the
# password change: admin's own password change page uses those, and would take the shop's look.
password_views = [
    path(
        "account/password/",
        auth_views.PasswordChangeView.as_view(
            template_name="registration/account_password_change.html",
            success_url=reverse_lazy("accounts:password_change_done"),
        ),
        name="password_change",
    ),
    path(
        "account/password/changed/",
        auth_views.PasswordChangeDoneView.as_view(template_name="registration/account_password_changed.html"),
        name="password_change_done",
    ),
    # The same page whether or not an account has the address: it tells no one who is a customer.
    path(
        "account/password/reset/",
        auth_views.PasswordResetView.as_view(
            form_class=PasswordResetForm,
            subject_template_name="emails/password_reset_subject.txt",
            email_template_name="emails/password_reset.txt",
            html_email_template_name="emails/password_reset.html",
            success_url=reverse_lazy("accounts:password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "account/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "account/password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            success_url=reverse_lazy("accounts:password_reset_complete")
        ),
        name="password_reset_confirm",
    ),
    path(
        "account/password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]

urlpatterns = [
    path("cart/", views.cart, name="cart"),
    path("cart/add/", views.cart_add, name="cart_add"),
    path("cart/update/", views.cart_update, name="cart_update"),
    path("cart/remove/", views.cart_remove, name="cart_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("account/", account_views.account, name="account"),
    path("account/profile/", account_views.profile, name="profile"),
    path("account/addresses/", account_views.addresses, name="addresses"),
    path("account/addresses/new/", account_views.address_new, name="address_new"),
    path("account/addresses/<int:pk>/", account_views.address_edit, name="address_edit"),
    path("account/addresses/<int:pk>/delete/", account_views.address_remove, name="address_delete"),
    path("account/addresses/<int:pk>/default/", account_views.address_default, name="address_default"),
    path("account/orders/", views.orders, name="orders"),
    path("account/orders/<int:pk>/", views.order, name="order"),
    path("account/orders/<int:pk>/cancel/", views.order_cancel, name="order_cancel"),
    path(
        "account/login/",
        retry_on_primary(
            LoginView.as_view(template_name="registration/login.html", authentication_form=LoginForm)
        ),
        name="login",
    ),
    # LogoutView accepts POST only (Django 5): a link or an image cannot log anyone out.
    path("account/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/signup/", views.signup, name="signup"),
    *password_views,
]
