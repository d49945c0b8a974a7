"""The command API answers every error in its own JSON shape (``{"success": false, "message": ...}``), never
Django's HTML pages: the error handlers below serve JSON for paths under /api/ and Django's own pages elsewhere,
and ``body_too_large`` turns an oversized body into a 413 before the body is read."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

API_PREFIX = "/api/"


def api_error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"success": False, "message": message}, status=status)


def too_large() -> JsonResponse:
    return api_error(413, f"The request body is larger than the {settings.API_MAX_BODY_BYTES:,} bytes allowed.")


def body_too_large(request: HttpRequest) -> bool:
    """The declared Content-Length is over API_MAX_BODY_BYTES (checked before anything reads the body)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > settings.API_MAX_BODY_BYTES


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return api_error(400, "The request could not be read.")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return api_error(403, "Forbidden.")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return api_error(404, f"No API endpoint at {request.path}: send commands to POST /api/bpm/cmd.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return api_error(500, "Internal error: the request was not completed. Retry with the same Idempotency-Key.")
    return defaults.server_error(request)
