import pytest
from django.core.cache import cache
from zeal import zeal_context


@pytest.fixture(autouse=True)
def _raise_on_n_plus_one():
    """Fail any test whose code runs an N+1 query pattern (django-zeal)."""
    with zeal_context():
        yield


@pytest.fixture(autouse=True)
def _empty_cache():
    """Start every test with the test run's own Redis database empty."""
    cache.clear()
