"""Writes that concern projects: creation, rubric, guidelines and membership."""

from django.db import transaction
from django.utils.text import slugify

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
    set_dimensions(project=project, dimensions=list(dimensions or DEFAULT_DIMENSIONS))
    set_flags(
        project=project,
        base_flag_keys=base_flag_keys if base_flag_keys is not None else [f.key for f in BASE_FLAGS],
        custom_flags=custom_flags or [],
    )
    if created_by is not None:
        Membership.objects.create(project=project, user=created_by, role=Membership.Role.LEAD)
    return project


@transaction.atomic
def set_dimensions(*, project: Project, dimensions: list[dict]) -> None:
    """Replace the rubric's dimensions (key, name, description, anchors) in the given order."""
    project.dimensions.exclude(key__in=[d["key"] for d in dimensions]).delete()
    for position, d in enumerate(dimensions):
        Dimension.objects.update_or_create(
            project=project,
            key=d["key"],
            defaults={
                "name": d["name"],
                "description": d.get("description", ""),
                "anchors": d.get("anchors", {}),
                "position": position,
            },
        )


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


def add_member(*, project: Project, user, role: str) -> Membership:
    """Give a user a role in a project (changing the role if they already have one)."""
    membership, _ = Membership.objects.update_or_create(
        project=project, user=user, defaults={"role": role}
    )
    return membership
