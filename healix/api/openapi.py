"""What drf-spectacular cannot infer about this API: the Api-Key scheme, and the errors every
operation can answer (RFC 9457 problem details), added once here rather than on every view."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from healix.api.auth import KEYWORD
from healix.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from healix.api.idempotency import MAX_KEY_LENGTH, REPLAY_HEADER
from healix.api.problems import PROBLEM_CONTENT_TYPE

__all__ = ["ApiKeySchemeExtension", "add_problem_responses"]

PROBLEM_MEDIA_TYPE = PROBLEM_CONTENT_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "One entry per field at fault; `pointer` is a JSON pointer "
            "(URI fragment form) into the request body, or names the query parameter.",
            "items": {
                "type": "object",
                "required": ["pointer", "detail"],
                "properties": {"pointer": {"type": "string"}, "detail": {"type": "string"}},
            },
        },
        "missingScope": {"type": "string", "description": "The scope the API key lacks (403)."},
    },
    "additionalProperties": True,
}

# Status -> when it is answered. Every operation may answer the first group.
ALWAYS = {
    "400": "Invalid query parameters or body; `errors` names each field.",
    "401": "No API key, or an unknown, revoked or expired one.",
    "403": "The API key lacks the scope this operation needs (`missingScope`).",
    "404": "Nothing with this id in the key's organization.",
    "406": "The Accept header admits no JSON.",
    "429": "Too many requests for this API key; see Retry-After.",
}
WITH_BODY = {
    "411": "A chunked body this server cannot read; send it with a Content-Length.",
    "413": "The request body is larger than the limit.",
    "415": "The body is not application/json.",
}
POST_ONLY = {
    "422": "The Idempotency-Key was first used with another request.",
}
PUBLIC = {
    "404": "No such document.",
    "406": "The Accept header admits no JSON.",
}


class ApiKeySchemeExtension(OpenApiAuthenticationExtension):
    target_class = "healix.api.auth.OrganizationAPIKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": f"`Authorization: {KEYWORD} <key>`; a key acts for one organization, "
            "within the scopes chosen when it was made.",
        }


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


IDEMPOTENCY_PARAMETER = {
    "in": "header",
    "name": IDEMPOTENCY_HEADER,
    "required": False,
    "description": "Makes a retry safe: a repeat within 24 hours gets the first answer "
    f"(with `{REPLAY_HEADER}: true`) and nothing is done again; the same key with another "
    "body is a 422.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
}


def add_problem_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the Problem schema, the errors each operation can
    answer, and the Idempotency-Key header on every POST."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            authenticated = any(operation.get("security", []))
            errors = dict(ALWAYS) if authenticated else dict(PUBLIC)
            if "requestBody" in operation or method in ("post", "put", "patch"):
                errors |= WITH_BODY
            if method == "post":
                errors |= POST_ONLY
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == IDEMPOTENCY_HEADER for p in parameters):
                    parameters.append(IDEMPOTENCY_PARAMETER)
            responses = operation.setdefault("responses", {})
            for code, description in errors.items():
                responses.setdefault(code, _problem_response(description))
    return result
