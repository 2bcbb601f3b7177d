"""One error body everywhere: {"detail": "...", "code": "...", "errors": {field: [...]}}.

`errors` appears only for invalid input; field names are the request's own (nested ones
joined with dots, e.g. "scores.12.helpfulness").
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

INVALID_DETAIL = "The request is invalid; see errors."


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def invalid(
    errors: dict[str, list[str]] | str, code: str = "invalid"
) -> exceptions.ValidationError:
    """A 400 with field errors (a dict) or one message for the request as a whole."""
    if isinstance(errors, str):
        errors = {"non_field_errors": [errors]}
    return exceptions.ValidationError(errors, code=code)


def from_django(exc: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(exc, "error_dict"):
        return invalid(
            {
                ("non_field_errors" if k == "__all__" else k): list(v)
                for k, v in exc.message_dict.items()
            }
        )
    return invalid({"non_field_errors": list(exc.messages)})


def form_errors(form, rename=lambda name: name) -> exceptions.ValidationError:
    """A Django form's errors as a 400, field names mapped to the API's by `rename`."""
    errors: dict[str, list[str]] = {}
    for name, messages in form.errors.items():
        key = "non_field_errors" if name == "__all__" else rename(name)
        errors.setdefault(key, []).extend(str(m) for m in messages)
    return invalid(errors)


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for k, v in _flatten(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(v, dict | list) for v in detail):
            out[prefix or "non_field_errors"] = [str(v) for v in detail]
        else:
            for n, value in enumerate(detail):
                for k, v in _flatten(value, f"{prefix}.{n}" if prefix else str(n)).items():
                    out.setdefault(k, []).extend(v)
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def _code_of(detail) -> str:
    if isinstance(detail, dict):
        detail = next(iter(detail.values()), "invalid")
    if isinstance(detail, list):
        detail = detail[0] if detail else "invalid"
    return getattr(detail, "code", None) or "invalid"


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = from_django(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django answer 500 and log it
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        code = _code_of(detail)
        if code in ("invalid", "required", "blank", "null"):
            code = "invalid"
        body = {"detail": INVALID_DETAIL, "code": code, "errors": _flatten(detail)}
        extra = getattr(exc, "extra", None)
        if extra:
            body.update(extra)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        body = {"detail": str(detail), "code": getattr(detail, "code", None) or "error"}
    return Response(body, status=response.status_code, headers=_headers(response))


def _headers(response: Response) -> dict[str, str]:
    return {k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After", "Allow")}
