from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views
from accounts.login import LoginView
from shopsite.db.retry import retry_on_primary

app_name = "accounts"
urlpatterns = [
    path("cart/", views.cart, name="cart"),
    path("cart/add/", views.cart_add, name="cart_add"),
    path("cart/update/", views.cart_update, name="cart_update"),
    path("cart/remove/", views.cart_remove, name="cart_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("account/orders/", views.orders, name="orders"),
    path("account/orders/<int:pk>/", views.order, name="order"),
    path(
        "account/login/",
        retry_on_primary(LoginView.as_view(template_name="registration/login.html")),
        name="login",
    ),
    # LogoutView accepts POST only (Django 5): a link or an image cannot log anyone out.
    path("account/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/signup/", views.signup, name="signup"),
]
