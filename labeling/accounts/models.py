from django.contrib.auth.models import AbstractUser
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models


class User(AbstractUser):
    """Our own user model from the first migration, so fields can be added later."""

    # Wellbeing: the harm categories this trainer agreed to read (taxonomy.WELLBEING_KEYS).
    harm_opt_ins = models.JSONField(default=list, blank=True)
    adult_confirmed_at = models.DateTimeField(null=True, blank=True)
    # Set by a trainer's erasure request: exports then show the pseudonym "deleted".
    erased_at = models.DateTimeField(null=True, blank=True)

    @property
    def harm_opt_in_mask(self) -> int:
        from labeling.projects.taxonomy import harm_mask

        return harm_mask(self.harm_opt_ins)


class Session(AbstractBaseSession):
    """Django's session row with the logged-in user's id in a column of its own, so that a
    request reads its session and its user in one statement (`labeling.accounts.sessions`).
    The column is derived from the session's data each time the session is saved; deleting
    a user deletes their sessions."""

    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta(AbstractBaseSession.Meta):
        db_table = "accounts_session"

    @classmethod
    def get_session_store_class(cls):
        from labeling.accounts.sessions import SessionStore

        return SessionStore
