"""drf-spectacular extensions: how the schema describes our own authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "labeling.api.tokens.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`Token <key>`: create a key at /account/tokens/ or POST /api/v1/tokens/."
            ),
        }


ERROR = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, for a person."},
        "code": {"type": "string", "description": "What went wrong, for a program."},
    },
    "required": ["detail", "code"],
}
VALIDATION_ERROR = {
    "type": "object",
    "properties": {
        **ERROR["properties"],
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "Messages per field; nested fields joined with dots.",
        },
    },
    "required": ["detail", "code", "errors"],
}
COMMON = {
    "401": "Not authenticated: no, an invalid or a revoked token.",
    "403": "Authenticated but not allowed (e.g. creating a project without the permission).",
    "404": "No such resource, or not one you may see (non-members always get 404).",
    "429": "Too many requests: wait for Retry-After seconds.",
}
WRITES = {"post", "put", "patch", "delete"}
# Codes only some operations answer with: (path suffix, method) -> code, description.
SPECIFIC = [
    ("/submit/", "post", "409", "The assignment was skipped; it cannot take a judgment, or the "
     "Idempotency-Key was used for another request, or (code `late_judgment`) the lease had "
     "lapsed and others completed the item: the judgment is kept as a late one, not counted."),
    ("/skip/", "post", "409", "The assignment is no longer open."),
    ("/assignments/next/", "post", "409", "The trainer has not yet confirmed being 18 or older "
     "and accepted the project's content notice."),
    ("/restart/", "post", "409", "Only a failed or stalled export can be run again."),
    ("/archive/", "get", "409", "The export has no files yet, or a deletion request withdrew it."),
    ("/files/{name}", "get", "409", "The export has no files yet, or a deletion request "
     "withdrew it."),
    ("/prompts/import/", "post", "413", "The file is larger than IMPORT_MAX_BYTES."),
    ("/tokens/", "post", "409", "Too many live tokens; revoke one first."),
]  # fmt: skip


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def add_error_responses(result, generator, request, public):
    """Document the error bodies every operation can answer with (see labeling.api.errors)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR
    schemas["ValidationError"] = VALIDATION_ERROR
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            codes = dict(COMMON)
            if method not in WRITES:
                codes.pop("429")
            if path.endswith("/tokens/") and method == "post":
                codes.pop("403")
            for suffix, verb, code, description in SPECIFIC:
                if path.endswith(suffix) and method == verb:
                    codes[code] = description
            for code, description in codes.items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": _ref("Error")}},
                    },
                )
            if method in WRITES or operation.get("parameters"):
                responses.setdefault(
                    "400",
                    {
                        "description": "Invalid input; `errors` says where.",
                        "content": {"application/json": {"schema": _ref("ValidationError")}},
                    },
                )
    return result
