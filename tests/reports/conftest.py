import pytest
from django.contrib.contenttypes.models import ContentType

from tests.reports.helpers import empty_report_views


@pytest.fixture(autouse=True)
def _cold_content_type_cache():
    """Empty the per-process content type cache, so query counts do not depend on test order."""
    ContentType.objects.clear_cache()


@pytest.fixture
def empty_views_after():
    """Leave the report views unpopulated after a transactional test: the flush at its end empties
    the tables, not the materialized views."""
    yield
    empty_report_views()
