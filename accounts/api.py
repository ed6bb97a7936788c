"""Accounts REST API (mounted at /api/v1/): the game-client pieces allauth's headless API does
not provide. Login, MFA, token refresh, logout and the session list are allauth's
(/_allauth/app/v1/…, documented at /_allauth/openapi.html)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from accounts.models import User
from accounts.selectors import account_mfa_state
from accounts.services import account_sessions_end_all, account_ws_ticket_issue

_error = inline_serializer(
    "Error", fields={"code": serializers.CharField(), "message": serializers.CharField()}
)
_restricted = OpenApiResponse(_error, description="Account suspended or banned; says why.")
_unauthenticated = OpenApiResponse(description="Missing, expired, tampered or revoked token.")


def _request_user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)  # IsAuthenticated (the default permission) ran first
    return user


class WsTicketOutput(serializers.Serializer):
    ticket = serializers.CharField(help_text="Send as the first WebSocket frame; single use.")
    expires_in = serializers.IntegerField(help_text="Seconds the ticket stays valid.")


class WsTicketView(APIView):
    """Exchange an access token for a single-use WebSocket ticket."""

    throttle_classes = [UserRateThrottle, ScopedRateThrottle]
    throttle_scope = "token"

    @extend_schema(
        operation_id="auth_ws_ticket_create",
        tags=["auth"],
        request=None,
        responses={
            200: WsTicketOutput,
            401: _unauthenticated,
            403: _restricted,
            429: OpenApiResponse(description="Too many tickets requested."),
        },
    )
    def post(self, request: Request) -> Response:
        ticket, expires_in = account_ws_ticket_issue(user=_request_user(request))
        output = WsTicketOutput({"ticket": ticket, "expires_in": expires_in})
        return Response(output.data)


class LogoutEverywhereOutput(serializers.Serializer):
    sessions_ended = serializers.IntegerField()


class LogoutEverywhereView(APIView):
    """End every session of the account — all game clients and browsers — which revokes every
    access and refresh token at once, including the one used for this call."""

    throttle_classes = [UserRateThrottle, ScopedRateThrottle]
    throttle_scope = "token"

    @extend_schema(
        operation_id="auth_logout_everywhere",
        tags=["auth"],
        request=None,
        responses={200: LogoutEverywhereOutput, 401: _unauthenticated, 403: _restricted},
    )
    def post(self, request: Request) -> Response:
        ended = account_sessions_end_all(user=_request_user(request))
        return Response(LogoutEverywhereOutput({"sessions_ended": ended}).data)


class MeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    status = serializers.CharField()
    region = serializers.CharField()
    mfa_enabled = serializers.BooleanField()
    date_joined = serializers.DateTimeField()


class MeView(APIView):
    """The account behind the access token."""

    @extend_schema(
        operation_id="auth_me",
        tags=["auth"],
        responses={200: MeOutput, 401: _unauthenticated, 403: _restricted},
    )
    def get(self, request: Request) -> Response:
        user = _request_user(request)
        data = {
            "id": user.pk,
            "username": user.username,
            "email": user.email,
            "status": user.status,
            "region": user.region,
            "mfa_enabled": account_mfa_state(user=user).enabled,
            "date_joined": user.date_joined,
        }
        return Response(MeOutput(data).data)
