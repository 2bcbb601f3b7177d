"""Rules an endpoint must keep: allowed hosts, key variable names, scrubbing secrets.

They are checked when an endpoint is saved and again right before every call, so a change of
settings (or a row written around the form) cannot send a request, or a secret, elsewhere.
"""

import ipaddress
import os
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

if TYPE_CHECKING:
    from .models import ModelEndpoint

KEY_NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
# Anything that looks like a credential: bearer tokens, sk-… keys, long opaque tokens.
_KEYLIKE = [
    re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"),
    re.compile(
        r"(?i)((?:api[_-]?key|token|authorization|password|secret)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]+"
    ),
    re.compile(r"\bsk-[A-Za-z0-9_\-*]{6,}"),
    re.compile(r"\b[A-Za-z0-9_\-]{32,}\b"),
]
REDACTED = "[redacted]"


def allowed_hosts() -> list[str]:
    return [h.strip().lower().strip("[]") for h in settings.MODEL_ALLOWED_HOSTS if h.strip()]


def host_allowed(host: str) -> bool:
    """True if `host` is in MODEL_ALLOWED_HOSTS (`*.example.com` matches subdomains only)."""
    host = host.lower().strip("[]").rstrip(".")
    if not host:
        return False
    for pattern in allowed_hosts():
        if pattern == "*":
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
        if pattern == host:
            return True
        if pattern == "loopback":
            try:
                if ipaddress.ip_address(host).is_loopback:
                    return True
            except ValueError:
                pass
    return False


def check_base_url(url: str) -> None:
    """Raise ValidationError unless `url` is http(s) to an allowed host, without credentials."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationError("Enter an http:// or https:// URL, e.g. http://127.0.0.1:8080/v1.")
    if parts.username or parts.password:
        raise ValidationError("Put no credentials in the URL: name a key variable instead.")
    if parts.query or parts.fragment:
        raise ValidationError("The base URL takes no query or fragment.")
    if not host_allowed(parts.hostname):
        raise ValidationError(
            f"The host {parts.hostname} is not allowed. An admin can add it to "
            "MODEL_ALLOWED_HOSTS (currently: " + ", ".join(allowed_hosts()) + ")."
        )


def check_key_env(name: str) -> None:
    """Raise ValidationError unless `name` is an upper-case variable with the key prefix."""
    prefix = settings.MODEL_KEY_ENV_PREFIX
    if not prefix:
        raise ValidationError("MODEL_KEY_ENV_PREFIX is empty; keys cannot be named.")
    if not KEY_NAME_RE.match(name) or not name.startswith(prefix) or name == prefix:
        raise ValidationError(
            f"The variable must be named {prefix}SOMETHING (upper-case letters, digits, _)."
        )


def validate_endpoint(endpoint: "ModelEndpoint") -> None:
    """Raise ValidationError (by field) if the endpoint breaks a rule."""
    errors: dict[str, list[str]] = {}
    if endpoint.kind == endpoint.Kind.OPENAI:
        if not endpoint.base_url:
            errors.setdefault("base_url", []).append("An OpenAI-compatible endpoint needs a URL.")
        else:
            try:
                check_base_url(endpoint.base_url)
            except ValidationError as exc:
                errors.setdefault("base_url", []).extend(exc.messages)
        if not endpoint.model:
            errors.setdefault("model", []).append("Name the model to request.")
    if endpoint.api_key_env:
        try:
            check_key_env(endpoint.api_key_env)
        except ValidationError as exc:
            errors.setdefault("api_key_env", []).extend(exc.messages)
    if not 0 <= endpoint.temperature <= 2:
        errors.setdefault("temperature", []).append("Between 0 and 2.")
    if not 0 < endpoint.top_p <= 1:
        errors.setdefault("top_p", []).append("Above 0, at most 1.")
    if errors:
        raise ValidationError(errors)


def api_key_for(endpoint: "ModelEndpoint") -> str | None:
    """The key from the environment, read at call time; never stored, never logged."""
    if not endpoint.api_key_env:
        return None
    check_key_env(endpoint.api_key_env)
    return os.environ.get(endpoint.api_key_env) or None


def scrub(text: str, *secrets: str | None, limit: int = 480) -> str:
    """`text` with every known secret and anything key-like replaced, cut to `limit` chars."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for pattern in _KEYLIKE:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def validate_moderation(moderation) -> None:
    """Raise ValidationError (by field) if a moderation endpoint breaks a rule."""
    from labeling.projects.taxonomy import HARM_FLAG_KEYS

    errors: dict[str, list[str]] = {}
    try:
        check_base_url(moderation.base_url)
    except ValidationError as exc:
        errors.setdefault("base_url", []).extend(exc.messages)
    if moderation.api_key_env:
        try:
            check_key_env(moderation.api_key_env)
        except ValidationError as exc:
            errors.setdefault("api_key_env", []).extend(exc.messages)
    if not 0 <= moderation.threshold <= 1:
        errors.setdefault("threshold", []).append("Between 0 and 1.")
    mapping = moderation.category_map
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        errors.setdefault("category_map", []).append(
            'An object of category names to taxonomy keys, e.g. {"hate": "hate"}.'
        )
    else:
        unknown = sorted({v for v in mapping.values() if v and v not in HARM_FLAG_KEYS})
        if unknown:
            errors.setdefault("category_map", []).append(
                "Not harm categories of the taxonomy: " + ", ".join(unknown) + "."
            )
    queue = moderation.route_to_queue
    if queue is not None and queue.project_id != moderation.project_id:
        errors.setdefault("route_to_queue", []).append("Pick one of this project's queues.")
    if errors:
        raise ValidationError(errors)
