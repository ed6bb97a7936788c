"""OpenAPI schema post-processing: every operation documents the errors it can answer with.

Views document their success bodies and the domain errors particular to them; the errors every
endpoint shares (bad input, missing or expired token, someone else's id, throttling) are added
here once, all with the one error body of ``mmo_platform.errors``. A client generated from the
schema (or a fuzzer reading it) then knows every status it can receive.
"""

from __future__ import annotations

from typing import Any

ERROR_COMPONENT = "Error"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error answer (mmo_platform/errors.py): a stable machine-readable "
    "`code`, a human `message`, and for invalid input the offending fields under `details`.",
    "properties": {
        "code": {"type": "string", "example": "not_found"},
        "message": {"type": "string"},
        "details": {"type": "object", "additionalProperties": {}},
    },
    "required": ["code", "message"],
}

# status -> description; added to an operation unless the view documented that status itself.
COMMON_ERRORS: dict[str, str] = {
    "400": "Invalid input: the body, a parameter or a header failed validation.",
    "401": "Missing, expired or revoked access token.",
    "403": "Not allowed: account restricted, or the action needs another role.",
    "404": "No such object, or it belongs to someone else (never revealed).",
    "405": "Method not allowed on this path.",
    "415": "Unsupported media type: send application/json.",
    "429": "Too many requests; retry after the time in the Retry-After header.",
}
WRITE_ERRORS: dict[str, str] = {
    "409": "Conflicts with the current state (or an idempotency key reused with other input).",
    "413": "Request body too large.",
}
WRITE_METHODS = {"post", "put", "patch", "delete"}


def add_error_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular ``POSTPROCESSING_HOOKS`` entry (runs after the default enum hook)."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = dict(COMMON_ERRORS)
            if method in WRITE_METHODS:
                errors.update(WRITE_ERRORS)
            responses = operation["responses"]
            for status, description in errors.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": reference}},
                    },
                )
    return result
