"""Per-user limits on writes, and on token creation (by user, or by address when anonymous)."""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class _LiveRates:
    # DRF copies the rates into a class attribute at import; reading them per request lets
    # a changed setting (or a test's override) take effect.
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class WriteThrottle(_LiveRates, UserRateThrottle):
    """Counts POST/PUT/PATCH/DELETE per user; reads are not limited."""

    scope = "write"

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)


class TokenThrottle(_LiveRates, SimpleRateThrottle):
    """Token creation checks a password: limit attempts per user, or per address if anonymous."""

    scope = "token"

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        ident = request.user.pk if request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
