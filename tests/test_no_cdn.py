"""Everything the portal and API docs load is served locally (the product works offline)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.factories import UserFactory

EXTERNAL = re.compile(r"""(?:src|href)=["'](?:https?:)?//""")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "logged_in"),
    [
        ("/", True),
        ("/accounts/login/", False),
        ("/api/v1/docs/", True),
        ("/_allauth/openapi.html", False),
    ],
)
def test_pages_load_no_external_assets(client: Client, url: str, logged_in: bool) -> None:
    if logged_in:
        client.force_login(UserFactory())
    response = client.get(url)
    assert response.status_code == 200
    assert not EXTERNAL.findall(response.content.decode()), url
