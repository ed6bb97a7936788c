"""The REST API fuzzed from its own OpenAPI schema with schemathesis, as an outside client would.

Every operation gets generated requests (valid and invalid bodies, parameters and headers) with a
real player's bearer token. Checked for each answer: never a server error; status code, content
type, headers and body all as the schema documents them. Not checked: that every schema-valid
request succeeds — the game's rules refuse many of them (an empty slot, too little gold) with a
documented 4xx. Logout endpoints are left out: they would revoke the token mid-run (they have
their own tests in tests/accounts).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.accounts.helpers import app_tokens
from tests.factories import UserFactory

PASSWORD = "fuzz-password-1"


def _schema() -> Any:
    spec = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(spec)
    loaded.app = get_wsgi_application()
    return loaded.exclude(path_regex="logout")


schema = _schema()


@pytest.fixture
def test_connection_kept(bearer_headers: dict[str, str]) -> Any:
    # The WSGI app is called directly, not through Django's test client, so its per-request
    # close_old_connections would close the test transaction's connection (on PostgreSQL; an
    # in-memory SQLite connection is never closed). Detach it as the test client does, after
    # the login (the test client reconnects it after each of its own requests).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer_headers(db: None, client: Any) -> dict[str, str]:
    user = UserFactory(username="fuzzer")
    user.set_password(PASSWORD)
    user.save()
    access, _ = app_tokens(client, username="fuzzer", password=PASSWORD)
    return {"Authorization": f"Bearer {access}"}


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_answers_every_generated_request_as_documented(
    case: Any, bearer_headers: dict[str, str], test_connection_kept: None
) -> None:
    case.call_and_validate(headers=bearer_headers, excluded_checks=[positive_data_acceptance])
