"""Staff views of the reports, served inside Django admin (see reports/admin.py for their URLs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.admin import ModelAdmin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DataError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from reports.charts import sales_chart
from reports.database_health import HEALTH_CACHE_SECONDS, health_report
from reports.forms import DashboardForm, default_filters
from reports.models import REPORT_MODELS
from reports.selectors import CategoryMonths, dashboard_data, report_freshness
from shopsite.db.keyset import KeysetRefused
from shopsite.exports import csv_lines, streamed
from shopsite.money import money

if TYPE_CHECKING:
    from reports.admin import ReportAdmin


def dashboard(request: HttpRequest, *, model_admin: ModelAdmin) -> HttpResponse:
    """Render the reports dashboard; bad filters get form errors (status 400) over the defaults."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    today = timezone.localdate()
    form = DashboardForm(request.GET, today=today)
    valid = form.is_valid()
    filters = form.filters() if valid else default_filters(today=today)
    data = dashboard_data(filters=filters, today=today)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Reports dashboard",
        "form": form,
        "filters": filters,
        "data": data,
        "chart": sales_chart(data.sales) if data.sales is not None else None,
        "category_rows": _category_rows(data.categories) if data.categories is not None else None,
        "reports": [
            {
                "name": model._meta.verbose_name_plural,
                "model_name": model._meta.model_name,
                "changelist": reverse(f"admin:reports_{model._meta.model_name}_changelist"),
                "csv": reverse(f"admin:reports_{model._meta.model_name}_csv"),
            }
            for model in REPORT_MODELS.values()
        ],
    }
    return TemplateResponse(request, "admin/reports/dashboard.html", context, status=200 if valid else 400)


def report_csv(request: HttpRequest, *, model_admin: ReportAdmin) -> HttpResponse:
    """Stream the rows the report's changelist shows for the same query string (search, filters,
    date hierarchy, ordering; every page) as CSV: the user, the view's freshness, then one query
    per page of CSV_CHUNK_SIZE rows, each after the last one's key (no server-side cursor: poolers).
    A query string the list would refuse, an order a key cannot follow or a value the database
    refuses is a plain-text 400, answered before any row is sent."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    view = model_admin.model._meta.db_table
    freshness = report_freshness(model_admin.model)
    if not freshness.populated:
        return _plain(f"{view} was never refreshed: run `manage.py refresh_reports`.\n", status=409)
    try:
        columns, rows = model_admin.export_rows(request)
    except IncorrectLookupParameters as error:
        return _plain(f"This list cannot be exported: its filters are not valid ({_reason(error)}).\n")
    except KeysetRefused as error:
        return _plain(f"This list cannot be exported in this order: {error}. Sort it by another column.\n")
    except DataError as error:
        reason = str(error).strip()
        return _plain(f"This list cannot be exported: the database refused its filters ({reason}).\n")
    as_of = f"-{freshness.refreshed:%Y%m%d-%H%M}" if freshness.refreshed else ""
    lines = streamed(request, csv_lines(columns, rows))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{view.removeprefix("reports_")}{as_of}.csv"'
    return response


def _plain(text: str, *, status: int = 400) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


def _reason(error: IncorrectLookupParameters) -> str:
    """Return what admin found wrong, in words: the messages of the error it wraps, if any."""
    cause = error.args[0] if error.args else None
    if isinstance(cause, ValidationError):
        return " ".join(cause.messages)
    return str(cause or "a filter or its value is unknown")


def _category_rows(categories: CategoryMonths) -> SafeString:
    """Return the category table's body rows as HTML: up to 37 months by every category, so
    built here rather than cell by cell in the template, which is ten times slower."""
    return format_html_join(
        "",
        '<tr><td>{}</td>{}<td class="number">{}</td></tr>',
        (
            (
                row.name,
                format_html_join(
                    "", '<td class="number">{}</td>', ((money(v),) for v in row.revenue_by_month)
                ),
                money(row.total),
            )
            for row in categories.rows
        ),
    )


def database_health(request: HttpRequest, *, model_admin: ModelAdmin) -> HttpResponse:
    """Render the database health page: statements, indexes, replicas, poolers, report views and
    commands, read at most every HEALTH_CACHE_SECONDS (reports/database_health.py)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Database health",
        "report": health_report(),
        "cache_seconds": HEALTH_CACHE_SECONDS,
    }
    return TemplateResponse(request, "admin/reports/database_health.html", context)
