"""A trainer's erasure (labeling/privacy) also removes their red-team rationales.

Hooked on the user's save rather than edited into the privacy service, so the red-team app
stays a layer on top: erase_trainer saves the user with `erased_at` set.
"""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import AttemptJudgment


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="redteam_erasure")
def remove_rationales_of_erased_trainer(sender, instance, **kwargs) -> None:
    if getattr(instance, "erased_at", None) is not None:
        AttemptJudgment.objects.filter(judge=instance).exclude(rationale="").update(rationale="")
