"""Per-user API tokens: create (shown once), list, revoke, and authenticate with them."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import TOKEN_PREFIX_LEN, ApiToken, hash_key

KEYWORDS = (b"token", b"bearer")
# Writing last_used_at on every request would turn reads into writes; once a minute is enough.
TOUCH_EVERY = timedelta(minutes=1)
MAX_TOKENS_PER_USER = 50


class TooManyTokens(Exception):
    pass


@transaction.atomic
def create_token(*, user, name: str) -> tuple[ApiToken, str]:
    """Make a new token for the user; return it and its key (never stored, shown once)."""
    live = ApiToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True)
    if live.count() >= MAX_TOKENS_PER_USER:
        raise TooManyTokens(f"You have {MAX_TOKENS_PER_USER} tokens; revoke one first.")
    key = ApiToken.new_key()
    token = ApiToken.objects.create(
        user=user, name=name.strip()[:100] or "token", prefix=key[:TOKEN_PREFIX_LEN],
        key_hash=hash_key(key),
    )  # fmt: skip
    return token, key


def revoke_token(*, token: ApiToken) -> ApiToken:
    """Stop a token from working, at once; the row stays for the record."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def tokens_of(user):
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>` (or `Bearer <key>`) with a live token of an active user."""

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header.")
        try:
            key = parts[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token header.") from None
        token = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=hash_key(key), revoked_at__isnull=True)
            .first()
        )
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to a request without credentials.
        return "Token"
