from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path

from shopsite.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("catalog.urls")),
]

# A database that cannot be reached answers 503 with a friendly page (shopsite.outage).
handler500 = "shopsite.outage.server_error"
handler400 = "shopsite.outage.bad_request"

if settings.BENCHMARK_HELLO_VIEW:
    # The ceiling of bench/web.py: the same server and middleware, no template, no query.
    urlpatterns.append(path("bench/hello", lambda request: HttpResponse("hello"), name="bench-hello"))

if "debug_toolbar" in settings.INSTALLED_APPS:
    urlpatterns.append(path("__debug__/", include("debug_toolbar.urls")))
