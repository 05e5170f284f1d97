"""Staff views of the reports, served inside Django admin (see reports/admin.py for their URLs)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
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
from reports.selectors import (
    DASHBOARD_BLOCK_VIEWS,
    CategoryMonths,
    dashboard_data,
    report_freshness,
    report_rows,
)
from shopsite.exports import csv_lines, streamed


def dashboard(request: HttpRequest, *, model_admin: ModelAdmin) -> HttpResponse:
    """Render the reports dashboard; bad filters get form errors (status 400) over the defaults."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    today = timezone.localdate()
    form = DashboardForm(request.GET, today=today)
    valid = form.is_valid()
    filters = form.filters() if valid else default_filters(today=today)
    data = dashboard_data(filters=filters, today=today)
    data_as_of = {
        block: _oldest([data.freshness[model._meta.db_table].refreshed for model in models])
        for block, models in DASHBOARD_BLOCK_VIEWS.items()
    }
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Reports dashboard",
        "form": form,
        "filters": filters,
        "data": data,
        "data_as_of": data_as_of,
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


def report_csv(request: HttpRequest, *, model_admin: ModelAdmin) -> HttpResponse:
    """Stream a whole report as CSV: the user, its freshness, then one query per page of
    CSV_CHUNK_SIZE rows, each after the last one's key (no server-side cursor: poolers)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    model = model_admin.model
    view = model._meta.db_table
    freshness = report_freshness(model)
    if not freshness.populated:
        return HttpResponse(
            f"{view} was never refreshed: run `manage.py refresh_reports`.\n",
            status=409,
            content_type="text/plain; charset=utf-8",
        )
    columns, rows = report_rows(model)
    as_of = f"-{freshness.refreshed:%Y%m%d-%H%M}" if freshness.refreshed else ""
    lines = streamed(request, csv_lines(columns, rows))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{view.removeprefix("reports_")}{as_of}.csv"'
    return response


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


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
                    "", '<td class="number">{}</td>', ((_money(v),) for v in row.revenue_by_month)
                ),
                _money(row.total),
            )
            for row in categories.rows
        ),
    )


def _oldest(moments):
    known = [moment for moment in moments if moment is not None]
    return min(known) if len(known) == len(moments) and known else None


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
