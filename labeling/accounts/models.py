from django.contrib.auth.models import AbstractUser
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
