from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """Anyone who logs in: staff, and customers with an account. Custom from the first migration."""
