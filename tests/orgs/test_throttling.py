"""The API throttle: DRF's sliding window (N requests in any `duration` seconds), kept in Redis by one script."""

import pytest
from django.core.cache import cache

from apps.orgs.throttling import ActorRateThrottle


@pytest.fixture
def clock(monkeypatch):
    now = {"t": 1_000_000.0}
    monkeypatch.setitem(ActorRateThrottle.THROTTLE_RATES, "actor", "3/min")
    monkeypatch.setattr(ActorRateThrottle, "timer", lambda self: now["t"])
    cache.clear()
    yield now
    cache.clear()


def test_the_window_slides_and_refused_requests_do_not_count(tenant, as_role, clock):
    assert cache.redis is not None  # the script's path, not DRF's fallback for other caches
    client = as_role("viewer")

    def at(t):
        clock["t"] = 1_000_000.0 + t
        return client.get("/api/v1/me")

    assert [at(t).status_code for t in (0, 10, 20)] == [200, 200, 200]
    refused = at(30)
    assert refused.status_code == 429
    assert refused.json()["error"]["details"]["retry_after"] == 30  # until the request at 0 leaves the window
    assert at(59).status_code == 429
    assert at(60).status_code == 200  # the one at 0 is out; the refused ones at 30 and 59 never counted
    assert at(61).status_code == 429
    assert at(70).status_code == 200


def test_each_token_has_its_own_window(tenant, as_role, clock):
    for _ in range(3):
        assert as_role("viewer").get("/api/v1/me").status_code == 200
    assert as_role("viewer").get("/api/v1/me").status_code == 429
    assert as_role("manager").get("/api/v1/me").status_code == 200
