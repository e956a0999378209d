"""Request throttling per API token, per signed-in user, and per address for anonymous callers."""

import itertools
import os

from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle

from .models import ApiToken

# DRF's sliding window (at most N requests in any `duration` seconds; refused requests do not count) kept
# in a sorted set by one script: one Redis round trip per request, and atomic, instead of reading and
# writing back the whole pickled history. Answers {allowed, requests in the window, oldest of them}.
_WINDOW_SCRIPT = """
local now, duration, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - duration)
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  return {0, n, redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(duration))
return {1, n + 1, '0'}
"""
_members = itertools.count()


class SlidingWindowThrottle(SimpleRateThrottle):
    """SimpleRateThrottle's rule and wait(), in one script on Redis (other caches: DRF's own way)."""

    _script = None

    def allow_request(self, request, view):
        redis = getattr(self.cache, "redis", None)
        if redis is None:
            return super().allow_request(request, view)
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        if SlidingWindowThrottle._script is None:
            SlidingWindowThrottle._script = redis().register_script(_WINDOW_SCRIPT)
        self.now = self.timer()
        member = f"{self.now!r}:{os.getpid()}:{next(_members)}"
        # Not DRF's key: that one may still hold a pickled list (written before this, or by DRF's own throttle).
        allowed, self._count, oldest = SlidingWindowThrottle._script(
            keys=[self.cache.make_key(f"{self.key}:window")],
            args=[repr(self.now), self.duration, self.num_requests, member],
            client=redis(),
        )
        self._oldest = float(oldest)
        return bool(allowed)

    def wait(self):
        if getattr(self.cache, "redis", None) is None:
            return super().wait()
        remaining = self.duration - (self.now - self._oldest) if self._count else self.duration
        available = self.num_requests - self._count + 1
        if available <= 0:
            return None
        return remaining / float(available)


class ActorRateThrottle(SlidingWindowThrottle):
    scope = "actor"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"token:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AddressRateThrottle(SlidingWindowThrottle, AnonRateThrottle):
    scope = "anon"
