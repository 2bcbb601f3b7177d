"""Sessions in the database, read together with their user: one statement per request.

`SESSION_ENGINE = "labeling.accounts.sessions"`. Django's database session engine with two
changes:

- each session row carries the logged-in user's id (`accounts.Session.user`), kept equal to
  the id in the session's data every time the session is saved;
- loading a session reads that user's row in the same statement, and `AuthenticationMiddleware`
  below hands it to Django's own `auth.get_user`, which then checks it exactly as it checks
  any user (backend listed, session hash verified, active): only the read is saved.

Every labeling request used to wait twice before its view ran: for the session (from Redis
with `cached_db`) and then for the user (PostgreSQL). Now it waits once, and never on
Redis. Measured, that is about 4 % of a submit's time at an idle worker: the session's data
is now decoded on each request, where `cached_db` kept it decoded (docs/benchmarks.md,
sixth pass).
"""

from contextvars import ContextVar

from django.contrib import auth
from django.contrib.auth import SESSION_KEY
from django.contrib.auth import middleware as auth_middleware
from django.contrib.sessions.backends import db
from django.db import connection
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from labeling.core.db import model_from_row, select_columns

# The session store whose user `auth.get_user` is resolving now (`user_read_with_session`).
_authenticating: ContextVar["SessionStore | None"] = ContextVar("authenticating", default=None)


class SessionStore(db.SessionStore):
    def __init__(self, session_key=None):
        super().__init__(session_key)
        self.loaded_user = None  # the user row read with the session, if it names one

    @classmethod
    def get_model_class(cls):
        from labeling.accounts.models import Session

        return Session

    def load(self):
        from labeling.accounts.models import User

        table, users = self.model._meta.db_table, User._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT s.session_data, s.user_id, {select_columns(User, 'u')} FROM {table} s "
                f"LEFT JOIN {users} u ON u.id = s.user_id "
                "WHERE s.session_key = %s AND s.expire_date > %s",
                [self.session_key, timezone.now()],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None  # as Django's store does: a new key on the next save
            return {}
        self.loaded_user = model_from_row(User, "u", row, 2) if row[1] is not None else None
        return self.decode(row[0])

    @classmethod
    def clear_expired(cls) -> int:
        """Delete the sessions past their expiry; return how many."""
        deleted, _ = cls.get_model_class().objects.filter(expire_date__lt=timezone.now()).delete()
        return deleted

    def create_model_instance(self, data):
        obj = super().create_model_instance(data)
        try:
            obj.user_id = int(data.get(SESSION_KEY))
        except (TypeError, ValueError):
            obj.user_id = None
        return obj


def user_read_with_session(user_id):
    """The user that the session being authenticated was read with, if it is `user_id`;
    else None (the caller then reads the user itself)."""
    store = _authenticating.get()
    user = getattr(store, "loaded_user", None)
    if user is not None and str(user.pk) == str(user_id):
        return user
    return None


def get_user(request):
    """Django's `get_user` of its middleware, with this request's session on hand for the
    backend (`user_read_with_session`) while Django resolves and checks the user."""
    if not hasattr(request, "_cached_user"):
        token = _authenticating.set(request.session)
        try:
            request._cached_user = auth.get_user(request)
        finally:
            _authenticating.reset(token)
    return request._cached_user


class AuthenticationMiddleware(auth_middleware.AuthenticationMiddleware):
    """Django's, but `request.user` is resolved with the user read along with the session."""

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: get_user(request))
