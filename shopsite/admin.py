"""What the apps' admin pages share."""

from django.conf import settings
from django.contrib import admin

from shopsite.errors import bad_request_page


class GrowingTableAdmin(admin.ModelAdmin):
    """The changelist of a table that grows with the shop (products, customers, orders, report rows).

    Django counts the whole table on every page to show "N of M"; on a big table that costs more
    than it tells, and the count of the filtered rows is enough.
    """

    show_full_result_count = False


# Admin's date hierarchy reads <field>__year, __month and __day with int() into a date, and
# computes the end of that year, month or day: a number no date has overflows there
# (OverflowError, a 500), and so does the year 9999, whose end would be in the year 10000.
DATE_PARTS = ("__year", "__month", "__day")
MAX_DATE_PART = 9999
MAX_YEAR = 9998


class AdminQueryMiddleware:
    """Answer 400 (the shop's page) to admin query strings that admin would answer with a 500.

    Admin turns query parameters into filters without a form to refuse them first (list filters,
    the date hierarchy, search, autocomplete, and the admins of other apps, such as axes'), so
    they are refused here, once for all of them:
    - a NUL character anywhere: PostgreSQL text cannot hold it (psycopg2 refuses to send it,
      jsonb refuses \\u0000);
    - a year beyond 9998, or a month or day beyond 9999, which the date hierarchy overflows on.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(settings.ADMIN_URL_PREFIX) and any(
            "\x00" in key
            or any("\x00" in value for value in values)
            or (key.endswith(DATE_PARTS) and any(_beyond_any_date(key, value) for value in values))
            for key, values in request.GET.lists()
        ):
            # Answered, not raised: Django logs the 400 in one line, a raised one with a traceback.
            return bad_request_page()
        return self.get_response(request)


def _beyond_any_date(key: str, value: str) -> bool:
    try:
        number = abs(int(value))
    except ValueError:  # not a number (or longer than int() reads): admin refuses it itself
        return False
    return number > (MAX_YEAR if key.endswith("__year") else MAX_DATE_PART)
