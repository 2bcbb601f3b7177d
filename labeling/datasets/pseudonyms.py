"""Trainers appear in exports only as pseudonyms: an HMAC of the user id.

The key (settings.PSEUDONYM_KEY) is one per deployment, so a trainer has the same pseudonym in
every project's exports and combined exports keep one trainer one person; without the key
the pseudonym cannot be turned back into a user.
"""

import hashlib
import hmac
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=65536)
def _pseudonym(key: str, user_id: int) -> str:
    digest = hmac.new(key.encode(), f"user:{user_id}".encode(), hashlib.sha256).hexdigest()
    return f"t-{digest[:16]}"


ERASED = "deleted"
_erased: frozenset[int] = frozenset()


def load_erased() -> None:
    """Read which trainers asked to be erased; their judgments stay, as "deleted"."""
    from labeling.accounts.models import User

    global _erased
    _erased = frozenset(User.objects.filter(erased_at__isnull=False).values_list("pk", flat=True))


def pseudonym(user_id: int) -> str:
    """The stable pseudonym of a user in this deployment's exports ("deleted" once erased)."""
    if user_id in _erased:
        return ERASED
    return _pseudonym(settings.PSEUDONYM_KEY, user_id)
