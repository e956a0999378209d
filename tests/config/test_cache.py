"""The Redis cache shares one client and connection pool per process across backend instances.

Under ASGI every request gets its own cache backend instance (django.core.cache.caches is context-local);
with Django's own client each of them opened a new Redis connection."""

import pytest
from django.core.cache import cache, caches

pytestmark = pytest.mark.skipif(getattr(cache, "redis", None) is None, reason="needs REDIS_URL")


def test_backend_instances_share_one_client_and_pool():
    first, second = caches.create_connection("default"), caches.create_connection("default")
    assert first is not second
    assert first.redis() is second.redis()
    first.set("cache-test", 1)
    assert second.get("cache-test") == 1


def test_requests_do_not_open_connections():
    client = caches.create_connection("default").redis()
    client.ping()
    before = client.info("stats")["total_connections_received"]
    for i in range(20):
        backend = caches.create_connection("default")  # what each ASGI request does
        backend.set(f"cache-test-{i}", i)
        assert backend.get(f"cache-test-{i}") == i
    # Others may share the Redis server: a new connection per backend would make at least 20.
    assert client.info("stats")["total_connections_received"] - before < 5
