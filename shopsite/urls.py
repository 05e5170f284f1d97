import re

from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe
from django.views.static import serve

from shopsite.db.health import healthz


@cache_control(max_age=86400, public=True)
def favicon(request):
    """Browsers ask for /favicon.ico on pages without an icon link (the admin's): not a 404 page.
    Not a permanent redirect: the icon's static name changes with its content."""
    return HttpResponseRedirect(static("shopsite/favicon.svg"))


@require_safe
def media(request, path: str):
    """Serve an uploaded file from MEDIA_ROOT, read at each request (tests move it): development
    and tests only, nginx serves them in production."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)


# The admin's header, its pages' titles and its index say whose admin this is.
admin.site.site_header = admin.site.site_title = admin.site.index_title = "shopsite administration"
# No sidebar of every model beside each page: at 1280 px it took a quarter of the width the order
# list needs. The breadcrumbs and the index lead everywhere it did.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("catalog.urls")),
]

# A database that cannot be reached answers 503 with a friendly page (shopsite.db.outage).
handler500 = "shopsite.db.outage.server_error"
handler400 = "shopsite.db.outage.bad_request"

if settings.BENCHMARK_HELLO_VIEW:
    # The ceiling of bench/web.py: the same server and middleware, no template, no query.
    urlpatterns.append(path("bench/hello", lambda request: HttpResponse("hello"), name="bench-hello"))

if settings.SERVE_MEDIA:
    media_prefix = re.escape(settings.MEDIA_URL.lstrip("/"))
    urlpatterns.append(re_path(rf"^{media_prefix}(?P<path>.+)$", media, name="media"))

if "debug_toolbar" in settings.INSTALLED_APPS:
    urlpatterns.append(path("__debug__/", include("debug_toolbar.urls")))
