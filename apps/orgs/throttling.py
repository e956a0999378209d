"""Request throttling per API token, per signed-in user, and per address for anonymous callers."""

from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle

from .models import ApiToken


class ActorRateThrottle(SimpleRateThrottle):
    scope = "actor"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"token:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AddressRateThrottle(AnonRateThrottle):
    scope = "anon"
