"""Per-user limits on writes, and on token creation (by user, or by address when anonymous)."""

from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class WriteThrottle(UserRateThrottle):
    """Counts POST/PUT/PATCH/DELETE per user; reads are not limited."""

    scope = "write"

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)


class TokenThrottle(SimpleRateThrottle):
    """Token creation checks a password: limit attempts per user, or per address if anonymous."""

    scope = "token"

    def get_cache_key(self, request, view) -> str:
        ident = request.user.pk if request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
