"""Django's Redis cache with one connection pool and one client per process, not one per request.

Under ASGI, `django.core.cache.caches` is context-local: every request builds its own RedisCache, and
Django's client makes a pool (so a new TCP connection) per backend instance and a `redis.Redis` per
command. Keying both by process makes every request reuse the same connections.
"""

import os
import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_clients: dict = {}
_lock = threading.Lock()


class PooledRedisCacheClient(RedisCacheClient):
    def __init__(self, servers, **options):
        super().__init__(servers, **options)
        self._identity = (tuple(servers), self._pool_class, repr(sorted(self._pool_options.items())))

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        # A forked child (Celery's prefork pool) makes its own: connections are not shared across processes.
        shared = (os.getpid(), index, self._identity)
        client = _clients.get(shared)
        if client is None:
            with _lock:
                client = _clients.get(shared)
                if client is None:
                    pool = self._pool_class.from_url(self._servers[index], **self._pool_options)
                    client = _clients[shared] = self._client(connection_pool=pool)
        return client


class PooledRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = PooledRedisCacheClient

    def redis(self):
        """The raw client, for commands the cache API lacks (scripts, pipelines); keys via make_key()."""
        return self._cache.get_client(write=True)
