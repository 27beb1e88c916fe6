import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with no cached graph and no refresh lock (ids repeat between tests)."""
    cache.clear()
    yield
    cache.clear()
