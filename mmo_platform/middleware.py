"""API requests answer every failure in the API's error body, DEBUG or not (docs/architecture.md,
"One error body for the whole API").

DRF's exception handler covers what DRF raises. This middleware covers what escapes a view under
``/api/`` or ``/_allauth/`` (allauth's headless views included) and no other middleware answered
(it sits near the top of ``MIDDLEWARE``, so allauth's ``ImmediateHttpResponse`` handling runs
first): input the parsers or the database cannot take becomes a 4xx, and anything else a logged
JSON 500 instead of Django's HTML pages (which, in DEBUG, would show source and settings to any
client).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError

from mmo_platform.views import is_api_request

logger = logging.getLogger("django.request")


class ApiErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code >= 400 and is_api_request(request) and _is_html(response):
            # Refused by Django before any view ran (a Host header that is no host name, in
            # CommonMiddleware): Django answered with its HTML page, the debug page in DEBUG.
            code = _CODE_BY_STATUS.get(response.status_code, "error")
            answer = _error(response.status_code, code, response.reason_phrase.lower())
            for header, value in response.items():  # security headers, Vary, Allow, cookies
                if header.lower() not in ("content-type", "content-length"):
                    answer[header] = value
            answer.cookies = response.cookies
            return answer
        return response

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not is_api_request(request):
            return None
        if isinstance(exc, RequestDataTooBig):
            return _error(413, "too_large", "request body is too large")
        # What Django itself turns into a 4xx page, in the API's shape.
        if isinstance(exc, Http404):
            return _error(404, "not_found", "not found")
        if isinstance(exc, PermissionDenied):
            return _error(403, "forbidden", "not allowed")
        if isinstance(exc, BadRequest | SuspiciousOperation | MultiPartParserError):
            return _error(400, "bad_request", "the request is malformed")
        if isinstance(exc, RecursionError):
            # API views do not recurse; the JSON parsers do, once per nesting level.
            return _error(400, "parse_error", "JSON is nested too deeply")
        if isinstance(exc, OverflowError | DataError):
            # A number or text the database column cannot hold (SQLite refuses ints past
            # 64 bits in parameters): the client's input, not a server fault.
            return _error(400, "invalid", "a value in the request is out of range")
        logger.error(
            "Internal Server Error: %s", request.path, exc_info=exc, extra={"status_code": 500}
        )
        return _error(500, "server_error", "internal error; it has been logged")


_CODE_BY_STATUS = {400: "bad_request", 403: "forbidden", 404: "not_found", 500: "server_error"}


def _is_html(response: HttpResponse) -> bool:
    return str(response.get("Content-Type", "")).startswith("text/html")


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"code": code, "message": message}, status=status)
