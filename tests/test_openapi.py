"""The OpenAPI schema validates with drf-spectacular's checker (warnings fail) and documents the
character, realm, queue and world-entry endpoints; the interactive page is served."""

from __future__ import annotations

import pathlib

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db

CHARACTER_AND_WORLD_OPERATIONS = {
    ("/api/v1/characters", "get"),
    ("/api/v1/characters/create", "post"),
    ("/api/v1/characters/options", "get"),
    ("/api/v1/characters/{character_id}", "get"),
    ("/api/v1/characters/{character_id}/delete", "post"),
    ("/api/v1/characters/{character_id}/restore", "post"),
    ("/api/v1/characters/{character_id}/join", "post"),
    ("/api/v1/queue/{queue_id}", "get"),
    ("/api/v1/queue/{queue_id}/leave", "post"),
    ("/api/v1/realms", "get"),
}


def test_schema_validates_without_warnings_and_has_our_endpoints(tmp_path: pathlib.Path) -> None:
    schema_file = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema_file))

    schema = yaml.safe_load(schema_file.read_text())
    documented = {(path, method) for path, ops in schema["paths"].items() for method in ops}
    assert documented >= CHARACTER_AND_WORLD_OPERATIONS
    join = schema["paths"]["/api/v1/characters/{character_id}/join"]["post"]
    assert {"200", "404", "409", "413", "503"} <= set(join["responses"])
    # Every operation documents the shared error answers, all with the one error body.
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert {"400", "401", "403", "404", "429"} <= set(operation["responses"]), (
                path,
                method,
            )
    not_found = schema["paths"]["/api/v1/realms"]["get"]["responses"]["404"]
    assert not_found["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert schema["components"]["schemas"]["Error"]["required"] == ["code", "message"]


def test_interactive_docs_page_is_served(client) -> None:
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    assert client.get("/api/v1/docs/").status_code == 200
    assert client.get("/api/v1/schema/").status_code == 200
