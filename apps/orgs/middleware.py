"""Members of a PHI organization must have TOTP set up before they use anything."""

import logging

from allauth.mfa.models import Authenticator
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from .errors import envelope
from .models import Membership

EXEMPT_PREFIXES = ("/accounts/", "/static/", "/healthz", "/invitations/")


class PhiMfaRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(EXEMPT_PREFIXES)
            and "HTTP_AUTHORIZATION" not in request.META  # API tokens: pipelines, no MFA prompt
            and self._needs_mfa(user)
        ):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    envelope("mfa_required", "set up two-factor authentication first (PHI organization)"),
                    status=403,
                )
            return redirect(reverse("mfa_activate_totp"))
        return self.get_response(request)

    @staticmethod
    def _needs_mfa(user) -> bool:
        in_phi_org = Membership.objects.filter(
            user=user, status=Membership.Status.ACTIVE, organization__phi=True, organization__is_active=True
        ).exists()
        if not in_phi_org:
            return False
        return not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


class ApiErrorMiddleware:
    """An unexpected exception under /api/ answers 500 with the error envelope, DEBUG or not."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not request.path.startswith("/api/"):
            return None
        logging.getLogger("django.request").error(
            "unhandled error on %s %s", request.method, request.path, exc_info=exception
        )
        return JsonResponse(envelope("server_error", "internal error; it has been logged"), status=500)
