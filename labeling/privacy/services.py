"""Deletion requests, trainer erasure and the retention purge.

A deletion soft-deletes at once (the data leaves every view, queue and later export) and
the purge removes it for good after `DATA_RETENTION_DAYS`.
"""

import hashlib
import json
import re
import uuid
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from labeling.accounts.models import Session
from labeling.core import audit
from labeling.judging.models import Assignment, CandidateFlag, Item, Judgment
from labeling.judging.rollups import rebuild_rollups
from labeling.judging.services import release_item_leases
from labeling.projects.models import Candidate, Project, Prompt
from labeling.projects.taxonomy import DELETED_BIT

from . import redact
from .models import DeletionRequest

_space = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lower case with runs of white space folded to one space."""
    return _space.sub(" ", text).strip().lower()


def digest(value: str) -> str:
    return hashlib.sha256(normalize(value).encode()).hexdigest()


def _prompts_by_source_user(project: Project, source_user_id: str) -> list[int]:
    wanted = str(source_user_id).strip()
    return [
        pk
        for pk, meta in Prompt.objects.filter(project=project, deleted_at__isnull=True)
        .values_list("pk", "metadata")
        .iterator()
        if isinstance(meta, dict) and str(meta.get("source_user_id", "")).strip() == wanted
    ]


def _prompts_by_text(project: Project, text: str) -> list[int]:
    needle = normalize(text)
    hits = set()
    live = Prompt.objects.filter(project=project, deleted_at__isnull=True)
    for pk, messages in live.values_list("pk", "messages").iterator():
        if any(needle in normalize(m.get("content", "")) for m in messages):
            hits.add(pk)
    responses = Candidate.objects.filter(prompt__in=live).values_list("prompt_id", "text")
    for prompt_id, body in responses.iterator():
        if prompt_id not in hits and needle in normalize(body):
            hits.add(prompt_id)
    return sorted(hits)


@transaction.atomic
def soft_delete_prompts(*, prompt_ids: list[int], now: datetime) -> dict[str, int]:
    """Take prompts out of every view, queue and later export; withdraw earlier exports."""
    prompts = Prompt.objects.filter(pk__in=prompt_ids, deleted_at__isnull=True)
    counts = {
        "prompts": prompts.count(),
        "candidates": Candidate.objects.filter(prompt__in=prompts).count(),
        "judgments": Judgment.objects.filter(assignment__item__prompt__in=prompts).count(),
        "exports": 0,
    }
    if not counts["prompts"]:
        return counts
    oldest = prompts.order_by("created_at").values_list("created_at", flat=True).first()
    project_ids = set(prompts.values_list("project_id", flat=True))
    items = Item.objects.filter(prompt__in=prompts)
    items.update(harm_mask=F("harm_mask").bitor(DELETED_BIT))
    release_item_leases(items=items)
    prompts.update(deleted_at=now)
    counts["exports"] = withdraw_exports(project_ids=project_ids, since=oldest, now=now)
    return counts


def withdraw_exports(*, project_ids, since: datetime, now: datetime) -> int:
    """Withdraw the exports that may hold data which existed from `since` on.

    An export holds a prompt if it was made after the prompt existed. (Conservative: an
    export that filtered the prompt out is withdrawn too.)
    """
    from labeling.datasets.models import Export

    return Export.objects.filter(
        project_id__in=project_ids, created_at__gte=since, withdrawn_at__isnull=True
    ).update(withdrawn_at=now)


def request_deletion(
    *, project: Project, by, source_user_id: str = "", text: str = ""
) -> DeletionRequest:
    """Record a deletion request and soft-delete every prompt it matches, at once."""
    if bool(source_user_id) == bool(text):
        raise ValueError("Give exactly one of a source user id or a text.")
    now = timezone.now()
    if source_user_id:
        kind, value = DeletionRequest.Kind.SOURCE_USER, str(source_user_id)
        ids = _prompts_by_source_user(project, value)
    else:
        kind, value = DeletionRequest.Kind.TEXT, text
        if len(normalize(text)) < 4:
            raise ValueError("The text must have at least 4 characters, or it matches too much.")
        ids = _prompts_by_text(project, text)
    return _delete_and_log(project=project, by=by, kind=kind, value=value, prompt_ids=ids, now=now)


@transaction.atomic
def _delete_and_log(
    *, project: Project, by, kind: str, value: str, prompt_ids: list[int], now: datetime
) -> DeletionRequest:
    counts = soft_delete_prompts(prompt_ids=prompt_ids, now=now)
    request = DeletionRequest.objects.create(
        project=project,
        kind=kind,
        match_digest=digest(value),
        requested_by=by,
        prompts_matched=counts["prompts"],
        candidates_matched=counts["candidates"],
        judgments_matched=counts["judgments"],
        exports_withdrawn=counts["exports"],
    )
    audit.record(action="deletion", actor=by, project=project, obj=request, kind=kind, **counts)
    return request


# Text a trainer flagged as personal data -------------------------------------------------------

PERSONAL_DATA = "personal_data"


class NotFlagged(Exception):
    """No trainer flagged this text as personal data."""


def flagged_personal_data(*, prompt: Prompt) -> set[int]:
    """Ids of the prompt's candidates that a trainer flagged `personal_data`."""
    return set(
        CandidateFlag.objects.filter(
            key=PERSONAL_DATA,
            candidate__prompt=prompt,
            judgment__assignment__item__project_id=prompt.project_id,
        ).values_list("candidate_id", flat=True)
    )


def _check_flagged(prompt: Prompt, candidate: Candidate | None) -> set[int]:
    flagged = flagged_personal_data(prompt=prompt)
    if not flagged or (candidate is not None and candidate.pk not in flagged):
        raise NotFlagged("No trainer flagged this text as personal data.")
    return flagged


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@transaction.atomic
def redact_flagged(*, prompt: Prompt, by, candidate: Candidate | None = None) -> Counter:
    """Redact identifiers in a flagged response (or in its prompt), keeping only a hash of it.

    Returns the counts by kind; with nothing found nothing changes, and removing the prompt
    is the way left. Earlier exports, which hold the original, are withdrawn.
    """
    prompt = Prompt.objects.select_for_update().get(pk=prompt.pk)
    _check_flagged(prompt, candidate)
    if candidate is not None:
        candidate = Candidate.objects.select_for_update().get(pk=candidate.pk)
        original = candidate.text
        candidate.text, counts = redact.redact(original)
        target, fields = candidate, ["text", "updated_at"]
    else:
        original = json.dumps(prompt.messages, sort_keys=True)
        counts = Counter()
        messages = []
        for message in prompt.messages:
            content, found = redact.redact(message.get("content", ""))
            messages.append({**message, "content": content})
            counts.update(found)
        prompt.messages = messages
        target, fields = prompt, ["messages", "updated_at"]
    if not counts:
        return counts
    target.save(update_fields=fields)
    now = timezone.now()
    withdrawn = withdraw_exports(project_ids=[prompt.project_id], since=prompt.created_at, now=now)
    audit.record(
        action="redaction",
        actor=by,
        project=prompt.project,
        obj=target,
        original_sha256=_sha256(original),
        counts=dict(counts),
        exports_withdrawn=withdrawn,
    )
    return counts


def remove_flagged(*, prompt: Prompt, by, candidate: Candidate | None = None) -> DeletionRequest:
    """Soft-delete a prompt whose response (or itself) a trainer flagged as personal data."""
    _check_flagged(prompt, candidate)
    value = candidate.text if candidate is not None else json.dumps(prompt.messages)
    return _delete_and_log(
        project=prompt.project,
        by=by,
        kind=DeletionRequest.Kind.FLAGGED,
        value=value,
        prompt_ids=[prompt.pk],
        now=timezone.now(),
    )


@transaction.atomic
def erase_trainer(*, user, by) -> DeletionRequest:
    """A trainer's erasure: rationales removed, judgments kept under the "deleted" pseudonym,
    and the trainer logged out everywhere (their sessions deleted)."""
    judgments = Judgment.objects.filter(assignment__trainer=user)
    n = judgments.count()
    judgments.update(rationale="")
    Assignment.objects.filter(trainer=user, status=Assignment.Status.LEASED).update(
        status=Assignment.Status.RELEASED
    )
    user.username = f"deleted-{uuid.uuid4().hex[:12]}"
    user.email = ""
    user.first_name = user.last_name = ""
    user.is_active = False
    user.erased_at = timezone.now()
    user.set_unusable_password()
    user.save()
    Session.objects.filter(user=user).delete()
    request = DeletionRequest.objects.create(
        kind=DeletionRequest.Kind.TRAINER,
        match_digest=digest(str(user.pk)),
        requested_by=by if by is not None and by.pk != user.pk else None,
        judgments_matched=n,
    )
    audit.record(action="erasure", actor=None, obj=request, judgments=n)
    return request


def purge_deleted(*, now: datetime | None = None) -> dict[str, int]:
    """Delete for good what was soft-deleted before the retention window, and withdrawn files."""
    from labeling.datasets.models import Export
    from labeling.datasets.services import delete_export_files

    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.DATA_RETENTION_DAYS)
    expired = Prompt.objects.filter(deleted_at__lt=cutoff)
    counts = {"prompts": expired.count()}
    withdrawn = Export.objects.filter(withdrawn_at__isnull=False, files_deleted_at__isnull=True)
    counts["export_files"] = 0
    for export in withdrawn:
        delete_export_files(export=export)
        counts["export_files"] += 1
    projects = list(Project.objects.filter(prompts__in=expired).distinct())
    with transaction.atomic():
        Item.objects.filter(prompt__in=expired).delete()
        expired.delete()
        # The dashboard's rollups counted the judgments that went with those items.
        for project in projects:
            rebuild_rollups(project=project)
    audit.record(action="purge", **counts)
    return counts
