"""Our account endpoints are documented in the drf-spectacular schema."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_schema_documents_the_account_endpoints_and_the_bearer_token() -> None:
    response = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    assert "post" in paths["/api/v1/auth/ws-ticket"]
    assert "post" in paths["/api/v1/auth/logout-everywhere"]
    assert "get" in paths["/api/v1/auth/me"]
    ticket = paths["/api/v1/auth/ws-ticket"]["post"]
    assert {"200", "401", "403"} <= set(ticket["responses"])
    assert {"gameToken": []} in ticket["security"]
    scheme = schema["components"]["securitySchemes"]["gameToken"]
    assert (scheme["scheme"], scheme["bearerFormat"]) == ("bearer", "JWT")
