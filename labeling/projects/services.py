"""Writes that concern projects: creation, rubric, guidelines and membership."""

from datetime import datetime, time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef
from django.utils import timezone
from django.utils.text import slugify

from labeling.core import audit
from labeling.judging.models import Score
from labeling.judging.services import default_queue, set_queue_overlap

from .models import Dimension, Flag, GuidelineRevision, Membership, Project
from .taxonomy import BASE_FLAGS, DEFAULT_DIMENSIONS


def unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "project"
    slug, n = base, 2
    while Project.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def create_project(
    *,
    name: str,
    created_by,
    mode: str = Project.Mode.PAIRWISE,
    guidelines: str = "",
    dimensions: list[dict] | None = None,
    base_flag_keys: list[str] | None = None,
    custom_flags: list[dict] | None = None,
    **settings,
) -> Project:
    """Create a project with its rubric and flag set; the creator becomes its lead."""
    project = Project.objects.create(
        name=name,
        slug=unique_slug(name),
        mode=mode,
        guidelines=guidelines,
        created_by=created_by,
        **settings,
    )
    GuidelineRevision.objects.create(
        project=project, version=1, text=guidelines, created_by=created_by
    )
    default_queue(project)
    set_dimensions(project=project, dimensions=list(dimensions or DEFAULT_DIMENSIONS))
    set_flags(
        project=project,
        base_flag_keys=base_flag_keys
        if base_flag_keys is not None
        else [f.key for f in BASE_FLAGS],
        custom_flags=custom_flags or [],
    )
    if created_by is not None:
        membership = Membership.objects.create(
            project=project, user=created_by, role=Membership.Role.LEAD
        )
        _audit_role(membership, by=created_by, action="member_added", role=membership.role)
    return project


def _rubric_changed(project: Project) -> None:
    """Tell the labeling pages' in-memory rubric (judging.selectors.rubric) to read it again."""
    Project.objects.filter(pk=project.pk).update(rubric_version=F("rubric_version") + 1)
    project.refresh_from_db(fields=["rubric_version"])
    project.__dict__.pop("_rubric", None)


@transaction.atomic
def set_dimensions(*, project: Project, dimensions: list[dict]) -> None:
    """Replace the rubric's dimensions (key, name, description, anchors) in the given order."""
    dropped = project.dimensions.exclude(key__in=[d["key"] for d in dimensions])
    scored = Score.objects.filter(dimension__in=dropped).values("dimension")
    dropped.filter(pk__in=scored).update(is_active=False)
    dropped.exclude(pk__in=scored).delete()
    for position, d in enumerate(dimensions):
        Dimension.objects.update_or_create(
            project=project,
            key=d["key"],
            defaults={
                "name": d["name"],
                "description": d.get("description", ""),
                "anchors": d.get("anchors", {}),
                "position": position,
                "is_active": True,
            },
        )
    _rubric_changed(project)


@transaction.atomic
def set_flags(*, project: Project, base_flag_keys: list[str], custom_flags: list[dict]) -> None:
    """Replace the project's flag set: chosen base-taxonomy flags, then the lead's own."""
    wanted = [f for f in BASE_FLAGS if f.key in set(base_flag_keys)]
    rows = [
        {"key": f.key, "label": f.label, "kind": f.kind, "description": f.description}
        for f in wanted
    ] + [{**c, "kind": Flag.Kind.CUSTOM} for c in custom_flags]
    project.flags.exclude(key__in=[r["key"] for r in rows]).delete()
    for position, row in enumerate(rows):
        Flag.objects.update_or_create(
            project=project,
            key=row["key"],
            defaults={
                "label": row["label"],
                "kind": row["kind"],
                "description": row.get("description", ""),
                "position": position,
            },
        )
    _rubric_changed(project)


@transaction.atomic
def update_guidelines(*, project: Project, text: str, by) -> Project:
    """Store new guidelines as a new version; unchanged text keeps the version."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    if text == project.guidelines:
        return project
    project.guidelines = text
    project.guidelines_version += 1
    project.save(update_fields=["guidelines", "guidelines_version", "updated_at"])
    GuidelineRevision.objects.create(
        project=project, version=project.guidelines_version, text=text, created_by=by
    )
    return project


@transaction.atomic
def add_member(*, project: Project, user, role: str, by=None) -> Membership:
    """Give a user a role in a project (changing the role if they already have one)."""
    before = (
        Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    )
    membership, _ = Membership.objects.update_or_create(
        project=project, user=user, defaults={"role": role}
    )
    if before is None:
        _audit_role(membership, by=by, action="member_added", role=role)
    elif before != role:
        _audit_role(membership, by=by, action="role_changed", role=role, previous=before)
    return membership


def _audit_role(membership: Membership, *, by, action: str, **details) -> None:
    audit.record(
        action=action,
        actor=by,
        project=membership.project,
        obj=membership,
        user_id=membership.user_id,
        username=membership.user.username,
        **details,
    )


LAST_LEAD_MESSAGE = "A project needs at least one lead; make someone else a lead first."


@transaction.atomic
def update_project(
    *,
    project: Project,
    by,
    name: str,
    mode: str,
    guidelines: str,
    scores_required: bool,
    rationale_policy: str,
    lease_minutes: int,
    overlap: int,
    dimensions: list[dict],
    base_flag_keys: list[str],
    custom_flags: list[dict],
) -> Project:
    """Save a project's settings, guidelines (a new version only if changed), rubric and flags."""
    project = update_guidelines(project=project, text=guidelines, by=by)  # locks the row
    if mode != project.mode and project.items.exists():
        raise ValidationError({"mode": "The mode cannot change once the project has items."})
    project.name = name
    project.mode = mode
    project.scores_required = scores_required
    project.rationale_policy = rationale_policy
    project.lease_minutes = lease_minutes
    project.overlap = overlap
    project.save(
        update_fields=[
            "name",
            "mode",
            "scores_required",
            "rationale_policy",
            "lease_minutes",
            "overlap",
            "updated_at",
        ]
    )
    set_dimensions(project=project, dimensions=dimensions)
    set_flags(project=project, base_flag_keys=base_flag_keys, custom_flags=custom_flags)
    main = default_queue(project)
    if main.overlap != overlap:
        set_queue_overlap(queue=main, overlap=overlap)
    return project


def _lock_lead_ids(project_id: int) -> list[int]:
    # Locking every lead row makes two leads demoting each other at once take turns.
    return list(
        Membership.objects.select_for_update()
        .filter(project_id=project_id, role=Membership.Role.LEAD)
        .values_list("pk", flat=True)
    )


@transaction.atomic
def change_member_role(*, membership: Membership, role: str, by=None) -> Membership:
    """Give a member another role, refusing to demote the project's last lead."""
    if role != Membership.Role.LEAD and _lock_lead_ids(membership.project_id) == [membership.pk]:
        raise ValidationError(LAST_LEAD_MESSAGE)
    previous = membership.role
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    if previous != role:
        _audit_role(membership, by=by, action="role_changed", role=role, previous=previous)
    return membership


@transaction.atomic
def remove_member(*, membership: Membership, by=None) -> None:
    """Take a user out of a project, refusing to remove its last lead."""
    if _lock_lead_ids(membership.project_id) == [membership.pk]:
        raise ValidationError(LAST_LEAD_MESSAGE)
    _audit_role(membership, by=by, action="member_removed", previous=membership.role)
    membership.delete()


def project_counts(*, project: Project) -> dict[str, int]:
    """Overview counts in three aggregate queries, however many items the project has."""
    # Imported here: judging builds on projects, so projects must not import it at load time.
    from labeling.judging.models import Assignment, Item, Judgment

    submitted = Judgment.objects.filter(
        assignment__item=OuterRef("pk"), assignment__status=Assignment.Status.SUBMITTED
    )
    items = Item.objects.filter(project=project).aggregate(
        items=Count("pk"), judged=Count("pk", filter=Exists(submitted))
    )
    start_of_today = datetime.combine(
        timezone.localdate(), time.min, tzinfo=timezone.get_current_timezone()
    )
    return {
        "prompts": project.prompts.count(),
        "items": items["items"],
        "judged": items["judged"],
        "remaining": items["items"] - items["judged"],
        "judgments_today": Judgment.objects.filter(
            assignment__item__project=project, created_at__gte=start_of_today
        ).count(),
    }
