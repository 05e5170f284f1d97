"""The catalog pages: thin, each reads through catalog.selectors."""

from django.core.paginator import EmptyPage
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from catalog import selectors
from catalog.filters import MAX_QUERY_LENGTH, SEARCH_SORT_LABELS, SORT_LABELS
from catalog.forms import ProductFilterForm, SearchForm
from catalog.paging import PAGE_SIZE, CountedPaginator
from shopsite.caching.page_cache import cache_page_for_visitors
from shopsite.db.retry import retry_on_primary
from shopsite.links import path_to


@retry_on_primary
@require_safe
@cache_page_for_visitors("catalog")
def home(request):
    if "q" in request.GET:  # a search typed into the home page's address: the search page
        query = QueryDict(mutable=True)
        query["q"] = request.GET["q"]
        return redirect(f"{path_to('catalog:search')}?{query.urlencode()}")
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
    form = ProductFilterForm(request.GET, facets=category.facets)
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
        "buckets": summary.buckets,
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
    context = {"product": page.product, "related": page.related, "facets": page.facets}
    return render(request, "catalog/product.html", context)


@retry_on_primary
@require_safe
@cache_page_for_visitors("catalog")
def search(request):
    search_form = SearchForm(request.GET)
    valid = search_form.is_valid()
    category = None
    if slug := search_form.category_slug():
        category = selectors.category_by_slug(slug)
        if category is None:  # the search runs in every category, and says so
            search_form.add_error("category", "There is no such category: showing every category.")
            valid = False
    facets = category.facets if category is not None else ()
    form = ProductFilterForm(request.GET, facets=facets, sorts=SEARCH_SORT_LABELS)
    valid = form.is_valid() and valid
    filters = form.filters()
    terms = search_form.terms()
    context = {
        "search_form": search_form,
        "search_query": _shown_query(request.GET.get("q", "")),
        "category": category,
        "form": form,
        "filters": filters,
        "sort_labels": SEARCH_SORT_LABELS,
        "page": None,
        "summary": None,
    }
    if terms is not None:
        summary = selectors.search_summary(search=terms, category=category, filters=filters)
        products = selectors.search_results(
            search=terms, category=category, filters=filters, exact=summary.exact
        )
        paginator = CountedPaginator(products, PAGE_SIZE, count=summary.count)
        try:
            context["page"] = paginator.page(form.page_number())
        except EmptyPage:
            raise Http404("No such page") from None
        context["summary"] = summary
        context["facets"] = summary.facets
        context["buckets"] = summary.buckets
    return render(request, "catalog/search.html", context, status=200 if valid else 400)


def _shown_query(typed: str) -> str:
    """Return the search as shown back in the search box: what fits in it, without NUL."""
    return typed.replace("\x00", "")[:MAX_QUERY_LENGTH]
