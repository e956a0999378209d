"""The error envelope of API.md, for DRF views and for Django's own 400/403/404/500 pages."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import render
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """A domain error a service raises; the view answers it with the envelope."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "validation_error"
    default_detail = "invalid request"

    def __init__(self, message=None, *, code=None, details=None, status_code=None):
        super().__init__(message or self.default_detail, code or self.default_code)
        self.code = code or self.default_code
        self.details = details or {}
        if status_code is not None:
            self.status_code = status_code


class Conflict(ApiError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "duplicate"
    default_detail = "conflicts with an existing object"


class Forbidden(ApiError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "permission_denied"
    default_detail = "you may not do this"


class NotFound(ApiError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"
    default_detail = "not found"


_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "validation_error",
    exceptions.ValidationError: "validation_error",
}


def envelope(code, message, details=None):
    return {"error": {"code": code, "message": str(message), "details": details or {}}}


def _message_and_details(exc):
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            return "invalid input", detail
        if isinstance(detail, list):
            return "; ".join(str(item) for item in detail) or "invalid input", {"non_field_errors": detail}
        return str(detail), {}
    return str(exc.detail) if hasattr(exc, "detail") else str(exc), {}


def api_exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        details = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(details)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handler answers with the envelope
    if isinstance(exc, ApiError):
        code, message, details = exc.code, str(exc.detail), exc.details
    else:
        code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), "error")
        message, details = _message_and_details(exc)
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            details = {"retry_after": int(exc.wait)}
    response.data = envelope(code, message, details)
    return response


def _wants_json(request):
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def _page(request, status_code, code, message, template):
    if _wants_json(request):
        return JsonResponse(envelope(code, message), status=status_code)
    return render(request, template, {"message": message}, status=status_code)


def bad_request(request, exception=None):
    return _page(request, 400, "validation_error", "bad request", "errors/400.html")


def permission_denied(request, exception=None):
    return _page(request, 403, "permission_denied", "you may not do this", "errors/403.html")


def page_not_found(request, exception=None):
    return _page(request, 404, "not_found", "not found", "errors/404.html")


def server_error(request):
    return _page(request, 500, "server_error", "internal error; it has been logged", "errors/500.html")


def csrf_failure(request, reason=""):
    return _page(request, 403, "permission_denied", "CSRF verification failed", "errors/403.html")


def api_response_error(code, message, status_code, details=None):
    return Response(envelope(code, message, details), status=status_code)
