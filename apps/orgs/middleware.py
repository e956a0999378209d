"""The project's own middleware: TOTP for members of PHI organizations, the API's 500 envelope, CSP on documents."""

import logging

from csp.middleware import CSPMiddleware
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from .authentication import ApiTokenAuthentication
from .errors import envelope
from .selectors import mfa_setup_required

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
            and not self._uses_api_token(request)  # API tokens: pipelines, no MFA prompt
            and mfa_setup_required(user=user)
        ):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    envelope("mfa_required", "set up two-factor authentication first (PHI organization)"),
                    status=403,
                )
            return redirect(reverse("mfa_activate_totp"))
        return self.get_response(request)

    @staticmethod
    def _uses_api_token(request) -> bool:
        # Any other Authorization header leaves the session in charge, so it must not skip the check.
        scheme = (request.META.get("HTTP_AUTHORIZATION", "").split() or [""])[0].lower()
        return request.path.startswith("/api/") and scheme in ApiTokenAuthentication.keywords


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


class DocumentCSPMiddleware(CSPMiddleware):
    """The Content-Security-Policy header on HTML documents only. JSON, CSV and files are never rendered as pages
    (SecurityMiddleware sends nosniff), and building the header cost every API request about 0.1 ms."""

    def process_response(self, request, response):
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        return super().process_response(request, response)
