"""Worlds REST API (mounted at /api/v1/): the realm list and login-queue places."""

from __future__ import annotations

from django.db.models import Count
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from characters.api import (
    JOIN_RESPONSES,
    UNAUTHENTICATED,
    JoinOutput,
    error_response,
    join_output,
    request_user,
)
from characters.models import Character
from worlds.selectors import realm_summaries
from worlds.services import login_queue_leave, login_queue_poll


class RealmOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    region = serializers.ChoiceField(choices=["eu", "na", "ap"])
    kind = serializers.ChoiceField(choices=["pve", "pvp"])
    status = serializers.ChoiceField(
        choices=["online", "offline"], help_text="online: at least one shard accepts players."
    )
    load = serializers.ChoiceField(choices=["low", "medium", "high", "full", "offline"])
    population = serializers.IntegerField()
    queue_length = serializers.IntegerField(help_text="Players waiting in the login queue.")
    your_characters = serializers.IntegerField(help_text="The caller's characters there.")


class RealmListView(APIView):
    """Open realms with live status, load and the caller's character count on each."""

    @extend_schema(
        operation_id="realms_list",
        tags=["world"],
        responses={200: RealmOutput(many=True), 401: UNAUTHENTICATED},
    )
    def get(self, request: Request) -> Response:
        user = request_user(request)
        counts = dict(
            Character.objects.filter(account_id=user.pk, purged_at__isnull=True)
            .values_list("realm_id")
            .annotate(n=Count("pk"))
            .values_list("realm_id", "n")
        )
        rows = [
            {
                "slug": summary.realm.slug,
                "name": summary.realm.name,
                "region": summary.realm.region,
                "kind": summary.realm.kind,
                "status": "online" if summary.online else "offline",
                "load": summary.load,
                "population": summary.population,
                "queue_length": summary.queue_length,
                "your_characters": counts.get(summary.realm.pk, 0),
            }
            for summary in realm_summaries()
        ]
        return Response(RealmOutput(rows, many=True).data)


class QueueStatusView(APIView):
    """Poll a place in the login queue. Once admitted, the answer is ``ready`` with the world
    ticket (the held slot lasts ``LOGIN_QUEUE_CLAIM_SECONDS``); stop polling for longer than
    ``LOGIN_QUEUE_ABANDON_SECONDS`` and the place is given up."""

    @extend_schema(
        operation_id="queue_status",
        tags=["world"],
        responses={
            **JOIN_RESPONSES,
            200: JoinOutput,
            404: error_response("No such place in line for this account."),
            409: error_response("The place has ended (queue_closed): join again."),
        },
    )
    def get(self, request: Request, queue_id: int) -> Response:
        outcome = login_queue_poll(user=request_user(request), queue_id=queue_id)
        return Response(join_output(outcome))


class QueueLeaveView(APIView):
    """Give up a place in the login queue."""

    @extend_schema(
        operation_id="queue_leave",
        tags=["world"],
        request=None,
        responses={
            204: None,
            401: UNAUTHENTICATED,
            404: error_response("No such place in line for this account."),
        },
    )
    def post(self, request: Request, queue_id: int) -> Response:
        login_queue_leave(user=request_user(request), queue_id=queue_id)
        return Response(status=204)
