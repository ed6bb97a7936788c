"""One domain-exception hierarchy, mapped to HTTP here and to WebSocket error frames in
``worlds.protocol``. Services raise these; adapters never invent their own error shapes."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler


class DomainError(Exception):
    """A rule of the game or platform said no. ``code`` is stable and machine-readable."""

    code: str = "error"
    http_status: int = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class ValidationFailed(DomainError):
    code = "invalid"


class NotFound(DomainError):
    """Also used for objects that exist but belong to someone else: never reveal them."""

    code = "not_found"
    http_status = status.HTTP_404_NOT_FOUND


class PermissionDenied(DomainError):
    code = "forbidden"
    http_status = status.HTTP_403_FORBIDDEN


class AccountRestricted(PermissionDenied):
    code = "account_restricted"


class Conflict(DomainError):
    code = "conflict"
    http_status = status.HTTP_409_CONFLICT


class RateLimited(DomainError):
    code = "rate_limited"
    http_status = status.HTTP_429_TOO_MANY_REQUESTS


class Unavailable(DomainError):
    code = "unavailable"
    http_status = status.HTTP_503_SERVICE_UNAVAILABLE


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF hook: every API error answers ``{"code", "message", "details"?}``.

    Domain errors carry their own code; DRF's errors keep their code (``not_authenticated``,
    ``throttled``, ...) and their text becomes ``message``; invalid input lists the offending
    fields under ``details`` (``{"field": ["why", ...]}``) with code ``invalid``."""
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.http_status)
    response = exception_handler(exc, context)
    if response is None:
        return None
    response.data = _uniform_body(exc, response.data)
    return response


def _uniform_body(exc: Exception, data: Any) -> dict[str, Any]:
    if isinstance(exc, ValidationError):
        fields = data if isinstance(data, dict) else {"non_field_errors": data}
        return {"code": "invalid", "message": _first_message(fields), "details": fields}
    code = getattr(exc, "default_code", "error")
    if isinstance(data, dict) and "message" in data:  # already our shape (raised with a dict)
        return {"code": str(data.get("code") or code), **data}
    detail = data.get("detail") if isinstance(data, dict) else data
    return {"code": getattr(detail, "code", None) or code, "message": str(detail)}


def _first_message(fields: dict[str, Any]) -> str:
    """``"limit: Ensure this value is less than or equal to 200."`` (the first problem)."""
    for name, problems in fields.items():
        first = problems[0] if isinstance(problems, list) and problems else problems
        if isinstance(first, dict):
            return f"{name}: {_first_message(first)}"
        return f"{name}: {first}"
    return "Invalid input."
