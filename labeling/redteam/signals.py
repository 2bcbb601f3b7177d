"""Privacy (labeling/privacy) reaches red-team data too, hooked here on its saves so the
red-team app stays a layer on top instead of editing the privacy services:

- a trainer's erasure (erase_trainer saves the user with `erased_at` set) removes their
  red-team rationales;
- a deletion request that matched prompts withdraws the project's red-team exports made
  since the oldest deleted prompt existed (the rule the privacy app applies to preference
  exports), and deletes their files.
"""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from labeling.privacy.models import DeletionRequest

from .models import AttemptJudgment


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="redteam_erasure")
def remove_rationales_of_erased_trainer(sender, instance, **kwargs) -> None:
    if getattr(instance, "erased_at", None) is not None:
        AttemptJudgment.objects.filter(judge=instance).exclude(rationale="").update(rationale="")


@receiver(post_save, sender=DeletionRequest, dispatch_uid="redteam_deletion")
def withdraw_exports_after_deletion(sender, instance, created: bool, **kwargs) -> None:
    if created and instance.project_id and instance.prompts_matched:
        from .export import withdraw_exports

        withdraw_exports(project_id=instance.project_id)
