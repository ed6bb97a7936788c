"""The refusal a restricted account gets from allauth's headless endpoints, in allauth's own
error shape (``{"status", "errors": [{"code", "message"}]}``) so game clients parse one format
for login, MFA and token refresh."""

from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest, JsonResponse

ACCOUNT_RESTRICTED_CODE = "account_restricted"


def headless_restricted_response(request: HttpRequest | None, refusal: str) -> JsonResponse:
    """Build the 403. With a headless ``request`` it is allauth's ``APIResponse`` (which allauth
    lets escape its login stages); without one (token refresh has none) a plain JSON body."""
    errors = [{"code": ACCOUNT_RESTRICTED_CODE, "message": refusal}]
    if request is not None:
        from allauth.headless.internal.restkit.response import APIResponse

        return APIResponse(request, status=HTTPStatus.FORBIDDEN, errors=errors)
    return JsonResponse({"status": HTTPStatus.FORBIDDEN, "errors": errors}, status=403)
