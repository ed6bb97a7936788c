"""Every API error has one body, ``{"code", "message", "details"?}``, whatever raised it; pages
for people stay HTML. Unknown API paths, wrong media types, invalid input, CSRF failures and
crashes all answer in that shape."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpResponse
from django.test import Client, RequestFactory

from mmo_platform.middleware import ApiErrorMiddleware
from mmo_platform.views import csrf_failure, server_error
from tests.accounts.helpers import app_tokens, bearer
from tests.characters.factories import CharacterFactory
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def api(client: Client, user):
    access, _ = app_tokens(client, username=user.username, password=DEFAULT_PASSWORD)
    return bearer(access)


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_api_path_answers_json_404_for_every_method(client: Client, method: str) -> None:
    response = getattr(client, method)("/api/v1/no/such/thing")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "code": "not_found",
        "message": "no API endpoint at /api/v1/no/such/thing",
    }


def test_unknown_portal_page_is_an_html_page(client: Client) -> None:
    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assert "text/html" in response["Content-Type"]
    assert "Nothing here." in response.content.decode()


def test_out_of_range_parameter_is_named_in_details(api, user) -> None:
    character = CharacterFactory(account=user)

    response = api.get(f"/api/v1/economy/characters/{character.pk}/ledger/", {"limit": 100000})

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "limit: Ensure this value is less than or equal to 200.",
        "details": {"limit": ["Ensure this value is less than or equal to 200."]},
    }


def test_validation_error_body(api) -> None:
    response = api.post("/api/v1/characters/create", {"name": ""}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["message"].split(":")[0] in body["details"]
    assert "name" in body["details"] and "realm" in body["details"]


def test_form_encoded_body_is_refused_with_415(api) -> None:
    response = api.post(
        "/api/v1/characters/create",
        "name=Bob&realm=eldoria",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert "application/x-www-form-urlencoded" in response.json()["message"]


def test_framework_errors_carry_code_and_message(client: Client) -> None:
    response = client.get("/api/v1/characters", HTTP_AUTHORIZATION="Bearer not-a-token")

    assert response.status_code == 401
    assert set(response.json()) == {"code", "message"}


def test_crash_on_an_api_path_answers_json_and_a_page_elsewhere() -> None:
    factory = RequestFactory()

    api_answer = server_error(factory.get("/api/v1/characters"))
    page_answer = server_error(factory.get("/characters/"))

    assert api_answer.status_code == page_answer.status_code == 500
    assert api_answer["Content-Type"] == "application/json"
    assert b'"code": "server_error"' in api_answer.content
    assert b"Something went wrong" in page_answer.content


def test_csrf_failure_answers_json_on_api_paths() -> None:
    factory = RequestFactory()

    api_answer = csrf_failure(
        factory.post("/api/v1/characters/create"), reason="CSRF cookie not set."
    )
    page_answer = csrf_failure(factory.post("/characters/new/"), reason="CSRF cookie not set.")

    assert api_answer.status_code == page_answer.status_code == 403
    assert b'"code": "csrf_failed"' in api_answer.content
    assert "text/html" in page_answer["Content-Type"]


def test_offset_past_the_database_range_is_invalid_input(api, user) -> None:
    character = CharacterFactory(account=user)

    response = api.get(f"/api/v1/economy/characters/{character.pk}/ledger/", {"offset": "9" * 20})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "offset" in response.json()["details"]


def test_deeply_nested_json_is_a_parse_error(api) -> None:
    body = "[" * 5000 + "]" * 5000

    response = api.post(
        "/api/v1/economy/purchases/",
        body,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="nested-1",
    )

    assert response.status_code == 400
    assert response.json() == {"code": "parse_error", "message": "JSON is nested too deeply"}


def test_deeply_nested_json_to_allauth_is_a_parse_error(client: Client) -> None:
    body = '{"username":' + "[" * 5000 + "]" * 5000 + "}"

    response = client.post("/_allauth/app/v1/auth/login", body, content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


def test_session_id_past_64_bits_is_refused_as_input(client: Client, user) -> None:
    access, _ = app_tokens(client, username=user.username, password=DEFAULT_PASSWORD)

    response = client.delete(
        "/_allauth/app/v1/auth/sessions",
        {"sessions": [10**20]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {access}",
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


def test_oversized_body_answers_json_413(api, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = api.post(
        "/api/v1/characters/create", {"name": "x" * 4096, "realm": "eldoria"}, format="json"
    )

    assert response.status_code == 413
    assert response.json() == {"code": "too_large", "message": "request body is too large"}


def test_trade_read_without_character_id_names_the_parameter(api) -> None:
    response = api.get("/api/v1/economy/trades/1/", {"character_id": "abc"})

    assert response.status_code == 400
    assert "character_id" in response.json()["details"]


def test_a_crash_on_an_api_path_is_json_even_in_debug(settings) -> None:
    settings.DEBUG = True
    middleware = ApiErrorMiddleware(lambda request: HttpResponse())
    factory = RequestFactory()

    api_answer = middleware.process_exception(factory.get("/api/v1/x"), RuntimeError("boom"))
    page_answer = middleware.process_exception(factory.get("/characters/"), RuntimeError("boom"))

    assert api_answer is not None and api_answer.status_code == 500
    assert b"boom" not in api_answer.content
    assert b'"code": "server_error"' in api_answer.content
    assert page_answer is None  # pages keep Django's handling (the debug page in DEBUG)


@pytest.mark.parametrize(
    ("raised", "status", "code"),
    [
        (Http404("x"), 404, "not_found"),
        (DjangoPermissionDenied("x"), 403, "forbidden"),
        (SuspiciousOperation("x"), 400, "bad_request"),
        (RecursionError(), 400, "parse_error"),
        (OverflowError(), 400, "invalid"),
        (RuntimeError(), 500, "server_error"),
    ],
)
def test_what_escapes_an_api_view_answers_in_the_api_shape(
    raised: Exception, status: int, code: str
) -> None:
    middleware = ApiErrorMiddleware(lambda request: HttpResponse())

    answer = middleware.process_exception(RequestFactory().get("/_allauth/app/v1/x"), raised)

    assert answer is not None and answer.status_code == status
    assert answer["Content-Type"] == "application/json"
    assert f'"code": "{code}"'.encode() in answer.content


@pytest.mark.parametrize("debug", [False, True])
def test_a_host_header_that_is_no_host_name_answers_json_400_on_api_paths(
    client: Client, settings, debug: bool
) -> None:
    settings.DEBUG = debug
    response = client.get("/api/v1/queue/255", HTTP_HOST="p|n<")

    assert response.status_code == 400
    assert response.json() == {"code": "bad_request", "message": "bad request"}
    assert response["X-Content-Type-Options"] == "nosniff"  # the inner middleware's headers
    page = client.get("/accounts/login/", HTTP_HOST="p|n<")
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html")
