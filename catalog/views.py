"""The catalog pages: thin, each reads through catalog.selectors."""

from django.core.paginator import EmptyPage
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_safe

from catalog import selectors
from catalog.filters import SORT_LABELS
from catalog.forms import ProductFilterForm
from catalog.paging import PAGE_SIZE, CountedPaginator
from shopsite.caching.page_cache import cache_page_for_visitors
from shopsite.db.retry import retry_on_primary


@retry_on_primary
@require_safe
@cache_page_for_visitors("catalog")
def home(request):
    return render(
        request,
        "catalog/home.html",
        {"categories": selectors.categories_with_counts(), "newest": selectors.newest_products()},
    )


@retry_on_primary
@require_safe
@cache_page_for_visitors("catalog")
def category(request, slug: str):
    category = selectors.category_by_slug(slug)
    if category is None:
        raise Http404("No such category")
    form = ProductFilterForm(request.GET, facets=list(category.facets))
    valid = form.is_valid()
    filters = form.filters()  # the valid part: a bad price is shown as an error, not applied
    summary = selectors.listing_summary(category=category, filters=filters)
    products = selectors.products_for_listing(category=category, filters=filters)
    paginator = CountedPaginator(products, PAGE_SIZE, count=summary.count)
    try:
        page = paginator.page(form.page_number())
    except EmptyPage:
        raise Http404("No such page") from None
    context = {
        "category": category,
        "form": form,
        "filters": filters,
        "page": page,
        "facets": summary.facets,
        "sort_labels": SORT_LABELS,
    }
    return render(request, "catalog/category.html", context, status=200 if valid else 400)


@retry_on_primary
@require_safe
@cache_page_for_visitors("catalog")
def product(request, slug: str):
    page = selectors.product_page(slug)
    if page is None:
        raise Http404("No such product")
    return render(request, "catalog/product.html", {"product": page.product, "related": page.related})
