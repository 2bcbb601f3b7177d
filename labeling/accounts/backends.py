"""Authentication backend: Django's ModelBackend with a cheaper per-request user read."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import connection

from labeling.accounts import sessions
from labeling.core.db import model_from_row, select_columns


class UserBackend(ModelBackend):
    """Logs in and checks permissions exactly as ModelBackend does. Only `get_user`, which
    runs on every request of a logged-in user, reads the row with one plain statement
    instead of compiling an ORM query each time (about a tenth of a labeling request's CPU),
    and not at all when the session was read with its user (`labeling.accounts.sessions`).
    """

    def get_user(self, user_id):
        model = get_user_model()
        try:
            pk = model._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        user = sessions.user_read_with_session(pk)
        if user is not None:
            return user if self.user_can_authenticate(user) else None
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {select_columns(model, 'u')} FROM {model._meta.db_table} u "
                f"WHERE u.{connection.ops.quote_name(model._meta.pk.column)} = %s",
                [pk],
            )
            row = cursor.fetchone()
        if row is None:
            return None
        user = model_from_row(model, "u", row, 0)
        return user if self.user_can_authenticate(user) else None
